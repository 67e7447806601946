// A channel parameter can be restricted to sending or to receiving.
package main

import "fmt"

// ping may only send on pings.
func ping(pings chan<- string, msg string) {
	pings <- msg
}

// pong may only receive from pings and only send on pongs.
func pong(pings <-chan string, pongs chan<- string) {
	msg := <-pings
	pongs <- msg + ", returned"
}

func main() {
	pings := make(chan string, 1)
	pongs := make(chan string, 1)
	ping(pings, "a message")
	pong(pings, pongs)
	fmt.Println(<-pongs)
}
