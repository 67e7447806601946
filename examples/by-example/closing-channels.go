// Closing a channel says no more values will come; receivers see it.
package main

import "fmt"

func main() {
	jobs := make(chan int, 5)
	done := make(chan bool)

	go func() {
		for {
			// more is false once jobs is closed and drained.
			j, more := <-jobs
			if !more {
				fmt.Println("received all jobs")
				done <- true
				return
			}
			fmt.Println("received job", j)
		}
	}()

	for j := 1; j <= 3; j++ {
		jobs <- j
		fmt.Println("sent job", j)
	}
	close(jobs)
	fmt.Println("sent all jobs")

	<-done

	// A receive from a closed, drained channel returns at once: the zero
	// value and false.
	j, ok := <-jobs
	fmt.Println("received more jobs:", j, ok)
}
