// A context.Context carries a deadline and a cancellation signal to the
// goroutines working for a request; they stop when ctx.Done() is closed.
package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// worker does d of work unless ctx is done first; it sends its error.
func worker(ctx context.Context, name string, d time.Duration,
	result chan<- error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		fmt.Println(name, "finished its work")
		result <- nil
	case <-ctx.Done():
		// Err says why: canceled, or deadline exceeded.
		fmt.Println(name, "stopped:", ctx.Err())
		result <- ctx.Err()
	}
}

func main() {
	result := make(chan error)

	// Everything under ctx must be done within 200ms.
	ctx, cancel := context.WithTimeout(context.Background(),
		200*time.Millisecond)
	defer cancel()

	go worker(ctx, "quick", 10*time.Millisecond, result)
	fmt.Println("quick returned", <-result)

	go worker(ctx, "slow", time.Second, result)
	err := <-result
	fmt.Println("slow returned", err)
	fmt.Println("deadline exceeded:", errors.Is(err, context.DeadlineExceeded))

	// Cancel by hand: the worker stops at once.
	ctx2, cancel2 := context.WithCancel(context.Background())
	go worker(ctx2, "cancelled", time.Second, result)
	time.Sleep(10 * time.Millisecond)
	cancel2()
	fmt.Println("cancelled returned", <-result)
}
