// stack_overflow_deep: a runaway recursion of small frames, tens of thousands of them before
// the 1 MiB limit set by debug.SetMaxStack (the default limit, 1 GB, allows millions):
// "fatal error: stack overflow", exit status 2. deftrace walks a few hundred frames of a
// stack, so of the deferred calls pending below the recursion it lists the linked records
// (main's, which has a defer in a loop: one stack-allocated, one heap-allocated) and says that
// open-coded ones further down are not listed (start's, in the frame just below the recursion).
package main

import (
	"fmt"
	"runtime/debug"
)

//go:noinline
func recurse(n int) int {
	return recurse(n+1) + 1
}

//go:noinline
func start() {
	defer fmt.Println("start: deferred (never printed, not listed)")
	recurse(0)
}

func main() {
	defer fmt.Println("main: deferred (never printed)")
	debug.SetMaxStack(1 << 20)
	for i := 0; i < 1; i++ {
		defer fmt.Println("main: deferred in a loop (never printed)")
	}
	fmt.Println("main: recursing")
	start()
}
