// A pool of worker goroutines takes jobs from one channel and sends
// results on another.
package main

import (
	"fmt"
	"time"
)

// worker handles jobs until the jobs channel is closed.
func worker(id int, jobs <-chan int, results chan<- int) {
	for j := range jobs {
		fmt.Println("worker", id, "started  job", j)
		time.Sleep(100 * time.Millisecond) // the work
		fmt.Println("worker", id, "finished job", j)
		results <- j * 2
	}
}

func main() {
	const numJobs = 5
	jobs := make(chan int, numJobs)
	results := make(chan int, numJobs)

	// Three workers, waiting for jobs.
	for w := 1; w <= 3; w++ {
		go worker(w, jobs, results)
	}

	// Hand out five jobs, then close: no more work.
	for j := 1; j <= numJobs; j++ {
		jobs <- j
	}
	close(jobs)

	// Collect every result; this also waits for the workers.
	sum := 0
	for a := 1; a <= numJobs; a++ {
		sum += <-results
	}
	fmt.Println("sum of results:", sum)
}
