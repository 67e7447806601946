// A goroutine is a function running concurrently with the rest of the
// program. The lines of the three callers interleave in any order.
package main

import (
	"fmt"
	"time"
)

func count(who string) {
	for i := 1; i <= 3; i++ {
		fmt.Println(who, "counts", i)
	}
}

func main() {
	// An ordinary call: it runs to the end before main goes on.
	count("main")

	// `go` starts count in a new goroutine and returns at once.
	go count("goroutine")

	// A function literal can be a goroutine too.
	go func(msg string) {
		fmt.Println(msg)
	}("an anonymous goroutine")

	// Give the goroutines time to finish (a WaitGroup, later, does it
	// properly).
	time.Sleep(250 * time.Millisecond)
	fmt.Println("done")
}
