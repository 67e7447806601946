// A sync.Mutex lets one goroutine at a time touch shared state.
package main

import (
	"fmt"
	"sync"
)

// Counters are shared by goroutines; mu guards counts.
type Counters struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *Counters) inc(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[name]++
}

func main() {
	c := Counters{counts: map[string]int{"a": 0, "b": 0}}
	var wg sync.WaitGroup

	// Add 1 to the named counter n times.
	doIncrement := func(name string, n int) {
		defer wg.Done()
		for i := 0; i < n; i++ {
			c.inc(name)
		}
	}

	wg.Add(3)
	go doIncrement("a", 10000)
	go doIncrement("a", 10000)
	go doIncrement("b", 10000)

	wg.Wait()
	fmt.Println(c.counts)
}
