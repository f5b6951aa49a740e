// nested_crash: deferred calls panic while earlier panics are in progress and none is
// recovered. Every pending deferred call still runs; the crash report lists the panics oldest
// first: a string, an error (printed through Error) and a value of a type with a String
// method (printed through String). Exit status 2.
package main

import "fmt"

// cleanupError is an error whose values need no heap allocation, so the crash report's
// argument words are the same on every run (a heap pointer would differ from Go 1.26 on,
// which randomises the heap's base address).
type cleanupError string

func (e cleanupError) Error() string { return string(e) }

type stage int

func (s stage) String() string { return fmt.Sprintf("stage-%d failed", int(s)) }

//go:noinline
func inner() {
	defer func() {
		panic(cleanupError("second: cleanup failed"))
	}()
	defer fmt.Println("inner: deferred print")
	panic("first: body failed")
}

//go:noinline
func outer() {
	defer fmt.Println("outer: deferred print")
	defer func() {
		panic(stage(3))
	}()
	inner()
}

func main() {
	defer fmt.Println("main: deferred print")
	outer()
}
