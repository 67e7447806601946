// A timer sends on its channel once, when it fires; it can be stopped
// before that.
package main

import (
	"fmt"
	"time"
)

func main() {
	// Wait for a timer: the receive blocks until it fires.
	timer1 := time.NewTimer(100 * time.Millisecond)
	<-timer1.C
	fmt.Println("timer 1 fired")

	// A goroutine waits for timer 2, or for main to tell it to give up.
	timer2 := time.NewTimer(200 * time.Millisecond)
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		select {
		case <-timer2.C:
			fmt.Println("timer 2 fired")
		case <-quit:
			fmt.Println("timer 2 never fired")
		}
	}()

	// Stop is true when it stopped the timer before it fired.
	if timer2.Stop() {
		fmt.Println("timer 2 stopped")
	}

	// Wait past the time timer 2 would have fired.
	time.Sleep(300 * time.Millisecond)
	close(quit)
	<-finished
}
