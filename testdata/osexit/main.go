// osexit: os.Exit ends the program at once; pending defers never run (exit status 3).
package main

import (
	"fmt"
	"os"
)

//go:noinline
func work() {
	defer fmt.Println("work: never printed")
	fmt.Println("work: exiting")
	os.Exit(3)
}

func main() {
	defer fmt.Println("main: never printed")
	work()
}
