// goexit_deadlock: main calls runtime.Goexit while another goroutine is parked for ever with a
// deferred call pending. Goexit runs main's own deferred calls (cause goexit), then the
// scheduler finds no goroutine that can run: "fatal error: all goroutines are asleep -
// deadlock!" (exit status 2), thrown on the scheduler's stack (runtime.checkdead), not on any
// goroutine. The parked goroutine's deferred call never runs. (testdata/goexit_edge has the
// other ending of a Goexit in main: no goroutine left at all, "no goroutines (main called
// runtime.Goexit) - deadlock!".)
package main

import (
	"fmt"
	"runtime"
)

func parked(ready chan<- struct{}, never <-chan struct{}) {
	defer fmt.Println("parked: deferred (never printed)")
	ready <- struct{}{}
	<-never
}

func main() {
	ready, never := make(chan struct{}), make(chan struct{})
	go parked(ready, never)
	<-ready
	defer fmt.Println("main: deferred, runs during Goexit")
	fmt.Println("main: calling Goexit")
	runtime.Goexit()
}
