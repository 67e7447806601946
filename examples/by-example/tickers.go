// A ticker sends on its channel at a regular interval until it is stopped.
package main

import (
	"fmt"
	"time"
)

func main() {
	start := time.Now()
	ticker := time.NewTicker(100 * time.Millisecond)
	done := make(chan bool)

	go func() {
		for {
			select {
			case <-done:
				return
			case t := <-ticker.C:
				fmt.Printf("tick at %.3fs\n", t.Sub(start).Seconds())
			}
		}
	}()

	// Three ticks come in 350ms; then stop the ticker and the goroutine.
	time.Sleep(350 * time.Millisecond)
	ticker.Stop()
	done <- true
	fmt.Println("ticker stopped")
}
