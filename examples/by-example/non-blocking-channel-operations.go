// A select with a default case never blocks: default runs when no other
// case is ready.
package main

import "fmt"

func main() {
	messages := make(chan string)
	signals := make(chan bool)

	// A non-blocking receive: nothing was sent, so default runs.
	select {
	case msg := <-messages:
		fmt.Println("received message", msg)
	default:
		fmt.Println("no message received")
	}

	// A non-blocking send: nobody receives on the unbuffered channel.
	msg := "hi"
	select {
	case messages <- msg:
		fmt.Println("sent message", msg)
	default:
		fmt.Println("no message sent")
	}

	// Several cases and a default: a multi-way non-blocking select.
	select {
	case msg := <-messages:
		fmt.Println("received message", msg)
	case sig := <-signals:
		fmt.Println("received signal", sig)
	default:
		fmt.Println("no activity")
	}

	// With room in a buffer, the send is ready and default does not run.
	mailbox := make(chan string, 1)
	select {
	case mailbox <- msg:
		fmt.Println("sent message", msg)
	default:
		fmt.Println("no message sent")
	}
}
