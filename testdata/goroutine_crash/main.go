// goroutine_crash: a panic in a child goroutine cannot be recovered by its parent; it kills
// the whole program (exit status 2) after running the child's own defers.
package main

import (
	"fmt"
	"os"
)

//go:noinline
func child(done chan struct{}) {
	defer fmt.Println("child: deferred print runs before the crash")
	close(done)
	panic("child goroutine panic")
}

func main() {
	defer func() {
		// Never reached: recover only sees panics of its own goroutine.
		fmt.Println("main recovered:", recover())
	}()
	done := make(chan struct{})
	block := make(chan struct{})
	fmt.Fprintln(os.Stdout, "main: starting child")
	go child(done)
	<-done
	<-block // the child's panic ends the program while main waits here
}
