// Rate limiting with a ticker: each request waits for a tick; a buffered
// channel of tokens allows short bursts.
package main

import (
	"fmt"
	"time"
)

func main() {
	start := time.Now()
	since := func() float64 { return time.Since(start).Seconds() }

	// Five requests, served at most one per 100ms tick.
	requests := make(chan int, 5)
	for i := 1; i <= 5; i++ {
		requests <- i
	}
	close(requests)

	limiter := time.NewTicker(100 * time.Millisecond)
	for req := range requests {
		<-limiter.C
		fmt.Printf("request %d at %.2fs\n", req, since())
	}
	limiter.Stop()

	// A bucket of three tokens: a burst of three, then one per tick.
	bursty := make(chan time.Time, 3)
	for i := 0; i < 3; i++ {
		bursty <- time.Now()
	}
	refill := time.NewTicker(100 * time.Millisecond)
	stop := make(chan bool)
	stopped := make(chan bool)
	go func() {
		for {
			select {
			case t := <-refill.C:
				select {
				case bursty <- t: // a new token
				default: // the bucket is full: drop it
				}
			case <-stop:
				stopped <- true
				return
			}
		}
	}()

	start = time.Now()
	burstyRequests := make(chan int, 5)
	for i := 1; i <= 5; i++ {
		burstyRequests <- i
	}
	close(burstyRequests)
	for req := range burstyRequests {
		<-bursty
		fmt.Printf("bursty request %d at %.2fs\n", req, since())
	}
	refill.Stop()
	stop <- true
	<-stopped
}
