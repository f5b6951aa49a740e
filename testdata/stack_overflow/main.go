// stack_overflow: unbounded recursion on the main goroutine with deferred calls pending on
// main and on a parked goroutine. debug.SetMaxStack lowers the limit to 256 KiB so that the
// overflow comes after a few hundred frames; runtime.newstack then prints
// "runtime: goroutine stack exceeds 262144-byte limit" and throws
// "fatal error: stack overflow" (exit status 2). A throw runs no deferred call: pending when
// the process dies are main's open-coded defer, the two heap-allocated defers registered in a
// loop by register, and the parked worker's open-coded defer.
package main

import (
	"fmt"
	"runtime/debug"
)

//go:noinline
func recurse(n int) int {
	var pad [1024]byte // a large frame: few frames reach the limit
	pad[n%len(pad)] = byte(n)
	return recurse(n+1) + int(pad[(n+1)%len(pad)])
}

//go:noinline
func register() {
	for i := 0; i < 2; i++ {
		defer fmt.Println("register: deferred", i, "(never printed)")
	}
	recurse(0)
}

func worker(ready chan<- struct{}, never <-chan struct{}) {
	defer fmt.Println("worker: deferred (never printed)")
	ready <- struct{}{}
	<-never
}

func main() {
	defer fmt.Println("main: deferred (never printed)")
	debug.SetMaxStack(256 << 10)
	ready, never := make(chan struct{}), make(chan struct{})
	go worker(ready, never)
	<-ready
	fmt.Println("main: worker parked, recursing")
	register()
}
