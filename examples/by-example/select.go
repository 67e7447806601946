// select waits on several channel operations and runs the first ready one.
package main

import (
	"fmt"
	"time"
)

func main() {
	fast := make(chan string)
	slow := make(chan string)

	// Each goroutine answers after its own delay.
	go func() {
		time.Sleep(50 * time.Millisecond)
		fast <- "fast"
	}()
	go func() {
		time.Sleep(250 * time.Millisecond)
		slow <- "slow"
	}()

	// Take both answers, each as soon as it arrives.
	for i := 0; i < 2; i++ {
		select {
		case msg := <-fast:
			fmt.Println("received", msg)
		case msg := <-slow:
			fmt.Println("received", msg)
		}
	}
}
