// A receive that waits for a send is a way to wait for a goroutine.
package main

import (
	"fmt"
	"time"
)

// work tells done when it is finished.
func work(done chan bool) {
	fmt.Print("working...")
	time.Sleep(100 * time.Millisecond)
	fmt.Println("finished")
	done <- true
}

func main() {
	done := make(chan bool, 1)
	go work(done)

	// Blocks until work sends; without it main could end first.
	<-done
	fmt.Println("main: the worker is finished")
}
