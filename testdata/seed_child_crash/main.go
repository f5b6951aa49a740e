// seed_child_crash: article 000's first puzzle, rewritten. Both main and the function that
// starts a goroutine defer a recover, but a panic belongs to the goroutine that raised it: the
// child's own deferred sum(1, 2) runs, then the panic kills the whole program (exit status 2)
// and neither recover is ever reached.
// Go's crash report starts the child's traceback with "goroutine N [running]:"; N depends on
// which P's batch of goroutine ids the child's creator was using and varies between runs
// (usually 6 or 18). Everything else on stdout and stderr is fixed.
package main

import "fmt"

func sum(a, b int) int {
	s := a + b
	fmt.Println("child: deferred sum(1, 2) =", s)
	return s
}

// spawn defers a recover of its own and returns normally; the goroutine it starts waits on
// start so its panic happens after main has printed its line.
//
//go:noinline
func spawn(start chan struct{}) {
	defer func() {
		if err := recover(); err != nil {
			fmt.Println("spawn recovered:", err) // never printed
		}
	}()
	go func() {
		defer sum(1, 2)
		<-start
		panic(1)
	}()
	fmt.Println("spawn: goroutine started, returning")
}

func main() {
	defer func() {
		if err := recover(); err != nil {
			fmt.Println("main recovered:", err) // never printed
		}
	}()
	start := make(chan struct{})
	spawn(start)
	fmt.Println("main: releasing the child and blocking in select{}")
	close(start)
	select {}
}
