// A ticker sends on its channel at a regular interval until it is stopped.
package main

import (
	"fmt"
	"time"
)

func main() {
	start := time.Now()
	ticker := time.NewTicker(200 * time.Millisecond)
	// Three ticks come (at 200, 400 and 600ms) before this timer fires.
	stop := time.NewTimer(700 * time.Millisecond)
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

	// Wait for the timer; then stop the ticker and the goroutine.
	<-stop.C
	ticker.Stop()
	done <- true
	fmt.Println("ticker stopped")
}
