// A buffered channel holds up to its capacity of values without a receiver.
package main

import "fmt"

func main() {
	queue := make(chan string, 2)

	// Two sends complete at once, with no receiver yet.
	queue <- "first"
	queue <- "second"
	fmt.Println("buffered:", len(queue), "of", cap(queue))

	// Values come out in the order they went in.
	fmt.Println(<-queue)
	fmt.Println(<-queue)
	fmt.Println("buffered:", len(queue), "of", cap(queue))
}
