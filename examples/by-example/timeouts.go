// A select with time.After bounds how long to wait.
package main

import (
	"fmt"
	"time"
)

// call answers on a channel after d. The buffer of one lets it send and
// exit even when nobody waits for the answer any more.
func call(name string, d time.Duration) chan string {
	answer := make(chan string, 1)
	go func() {
		time.Sleep(d)
		answer <- name + " answered"
	}()
	return answer
}

func main() {
	// The answer takes 200ms, we wait 100ms: the timeout wins.
	select {
	case res := <-call("first", 200*time.Millisecond):
		fmt.Println(res)
	case <-time.After(100 * time.Millisecond):
		fmt.Println("first: timed out")
	}

	// The answer takes 200ms, we wait 300ms: the answer wins.
	select {
	case res := <-call("second", 200*time.Millisecond):
		fmt.Println(res)
	case <-time.After(300 * time.Millisecond):
		fmt.Println("second: timed out")
	}
}
