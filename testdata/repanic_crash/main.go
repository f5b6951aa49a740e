// repanic_crash: a deferred call recovers a panic and panics again with the same value; nobody
// recovers the second panic, so the program dies (exit status 2) after main's deferred print.
// Go's crash report names the first panic as recovered; from Go 1.25 it also says the value was
// re-panicked ("panic: boom [recovered, repanicked]" instead of two lines).
package main

import "fmt"

//go:noinline
func work() {
	defer func() {
		r := recover()
		fmt.Println("work: recovered", r, "and panicking again with it")
		panic(r)
	}()
	defer fmt.Println("work: deferred print before the recover")
	panic("boom")
}

func main() {
	defer fmt.Println("main: deferred print runs before the crash")
	work()
	fmt.Println("main: not reached")
}
