// A channel connects goroutines: one sends a value, another receives it.
package main

import "fmt"

func main() {
	// make(chan T) makes an unbuffered channel of T.
	greetings := make(chan string)

	// Send from a new goroutine: an unbuffered send waits for a receiver.
	go func() { greetings <- "hello" }()

	// Receive: waits until the value arrives.
	msg := <-greetings
	fmt.Println(msg)
}
