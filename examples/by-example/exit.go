// os.Exit ends the program at once with a status; deferred calls do not run.
package main

import (
	"fmt"
	"os"
)

func main() {
	// Never printed: os.Exit does not run defers.
	defer fmt.Println("deferred: cleaning up")

	fmt.Println("exiting with status 3")
	os.Exit(3)
}
