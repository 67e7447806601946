// sync/atomic updates a counter from many goroutines without a lock.
package main

import (
	"fmt"
	"sync"
	"sync/atomic"
)

func main() {
	var ops uint64
	var wg sync.WaitGroup

	// 50 goroutines each add 1, 1000 times.
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := 0; c < 1000; c++ {
				atomic.AddUint64(&ops, 1)
			}
		}()
	}

	wg.Wait()
	// After Wait every add has happened; a plain ops++ would lose some.
	fmt.Println("ops:", atomic.LoadUint64(&ops))
}
