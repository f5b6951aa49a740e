// goexit: runtime.Goexit runs the goroutine's pending defers; recover() inside them returns nil
// because Goexit is not a panic.
package main

import (
	"fmt"
	"runtime"
)

//go:noinline
func quitter(done chan struct{}) {
	defer close(done)
	defer func() {
		fmt.Println("recover during Goexit:", recover())
	}()
	defer fmt.Println("quitter: deferred")
	inner()
	fmt.Println("not reached")
}

//go:noinline
func inner() {
	defer fmt.Println("inner: deferred")
	runtime.Goexit()
}

func main() {
	done := make(chan struct{})
	go quitter(done)
	<-done
	fmt.Println("main: done")
}
