// One goroutine owns the state; others read and write it by sending it
// requests on channels, so no lock is needed.
package main

import (
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"time"
)

type readOp struct {
	key  int
	resp chan int
}

type writeOp struct {
	key  int
	val  int
	resp chan bool
}

func main() {
	var readOps, writeOps uint64
	reads := make(chan readOp)
	writes := make(chan writeOp)
	quit := make(chan struct{})
	var wg sync.WaitGroup

	// The owner: the only goroutine that touches state.
	wg.Add(1)
	go func() {
		defer wg.Done()
		state := make(map[int]int)
		for {
			select {
			case read := <-reads:
				read.resp <- state[read.key]
			case write := <-writes:
				state[write.key] = write.val
				write.resp <- true
			case <-quit:
				return
			}
		}
	}()

	// 100 readers.
	for r := 0; r < 100; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				read := readOp{key: rand.Intn(5), resp: make(chan int)}
				select {
				case reads <- read:
				case <-quit:
					return
				}
				<-read.resp
				atomic.AddUint64(&readOps, 1)
				time.Sleep(time.Millisecond)
			}
		}()
	}

	// 10 writers.
	for w := 0; w < 10; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				write := writeOp{key: rand.Intn(5), val: rand.Intn(100),
					resp: make(chan bool)}
				select {
				case writes <- write:
				case <-quit:
					return
				}
				<-write.resp
				atomic.AddUint64(&writeOps, 1)
				time.Sleep(time.Millisecond)
			}
		}()
	}

	// Let them work for a while, then stop everyone.
	time.Sleep(200 * time.Millisecond)
	close(quit)
	wg.Wait()

	fmt.Println("readOps:", atomic.LoadUint64(&readOps))
	fmt.Println("writeOps:", atomic.LoadUint64(&writeOps))
}
