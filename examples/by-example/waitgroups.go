// A sync.WaitGroup waits for a set of goroutines to finish.
package main

import (
	"fmt"
	"sync"
	"time"
)

func worker(id int) {
	fmt.Printf("worker %d starting\n", id)
	time.Sleep(100 * time.Millisecond)
	fmt.Printf("worker %d done\n", id)
}

func main() {
	var wg sync.WaitGroup

	for i := 1; i <= 5; i++ {
		wg.Add(1) // one more to wait for, before it starts
		i := i    // Go 1.19: each goroutine needs its own copy of i
		go func() {
			defer wg.Done() // one fewer, however worker returns
			worker(i)
		}()
	}

	// Blocks until the counter is back to zero.
	wg.Wait()
	fmt.Println("all workers done")
}
