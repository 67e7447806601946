// A program that ends cleanly when it is told to stop: signal.Notify turns
// incoming Unix signals into values on a channel. To run without anyone
// pressing Ctrl-C, this one sends itself SIGTERM.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// Notify never blocks sending, so the channel needs a buffer.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)

	done := make(chan bool, 1)

	// This goroutine waits for a signal, reports it and lets main finish.
	go func() {
		sig := <-sigs
		fmt.Println()
		fmt.Println(sig)
		done <- true
	}()

	fmt.Println("awaiting signal")
	// Ctrl-C in a terminal would send SIGINT; kill would send SIGTERM.
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	<-done
	fmt.Println("exiting")
}
