// for ... range over a channel receives until the channel is closed.
package main

import "fmt"

func main() {
	queue := make(chan string, 3)
	queue <- "one"
	queue <- "two"
	queue <- "three"
	// A closed channel still gives its buffered values.
	close(queue)

	for elem := range queue {
		fmt.Println(elem)
	}
	fmt.Println("the channel is closed and drained")
}
