// rangefunc_body_recover: a panic passes through an iterator that has a defer of its own, and
// the recover that catches it was deferred inside the range-over-func loop body
// (runtime.deferprocat, so the record belongs to the enclosing function).
// Go 1.24.4 and later recover and return normally. Go 1.23.5 resumes in the wrong frame after
// the recovery: the iterator's deferred call runs a second time, the loop body runs again and
// the program dies with "fatal error: panic while printing panic value" and a full goroutine
// dump (Go issue 71675). That is why this module says `go 1.24` and is not built with 1.23.
//   - recoverFromBodyDefer: the iterator panics; the recover was deferred on the first pass
//   - recoverAmongOthers: the iterator panics; the body defers on every pass, the recover on
//     the second pass only, and the enclosing function has a defer of its own
//   - bodyPanicRecoveredByBodyDefer: the body itself panics; the recover was deferred by an
//     earlier pass of the body
//
// The iterator factories are //go:noinline so each closure is compiled once (see
// rangefunc_more).
package main

import "fmt"

// failing yields 0, 1, ... and panics when it reaches at; it defers a note of its own.
//
//go:noinline
func failing(at int) func(func(int) bool) {
	return func(yield func(int) bool) {
		defer fmt.Println("  iterator: deferred note")
		for i := 0; ; i++ {
			if i == at {
				panic(fmt.Sprint("iterator failed at ", i))
			}
			if !yield(i) {
				return
			}
		}
	}
}

//go:noinline
func recoverFromBodyDefer() {
	for i := range failing(2) {
		if i == 0 {
			defer func() {
				fmt.Println("  recoverFromBodyDefer: recovered:", recover())
			}()
		}
		fmt.Println("  recoverFromBodyDefer: body", i)
	}
	fmt.Println("  recoverFromBodyDefer: not reached")
}

//go:noinline
func recoverAmongOthers() (out string) {
	defer func() { out += " [function defer ran last]" }()
	for i := range failing(3) {
		defer func() { out += fmt.Sprint(" body", i) }()
		if i == 1 {
			defer func() {
				out += fmt.Sprint(" recovered(", recover(), ")")
			}()
		}
	}
	return "not reached"
}

//go:noinline
func bodyPanicRecoveredByBodyDefer() {
	for i := range counting(5) {
		if i == 1 {
			panic("body failed at 1")
		}
		defer func() {
			fmt.Println("  bodyPanicRecoveredByBodyDefer: recovered:", recover())
		}()
	}
	fmt.Println("  bodyPanicRecoveredByBodyDefer: not reached")
}

// counting yields 0..n-1 and defers a note of its own.
//
//go:noinline
func counting(n int) func(func(int) bool) {
	return func(yield func(int) bool) {
		defer fmt.Println("  iterator: counting's deferred note")
		for i := 0; i < n; i++ {
			if !yield(i) {
				return
			}
		}
	}
}

func main() {
	fmt.Println("recoverFromBodyDefer:")
	recoverFromBodyDefer()
	fmt.Println("recoverAmongOthers:")
	fmt.Println("  result:", recoverAmongOthers())
	fmt.Println("bodyPanicRecoveredByBodyDefer:")
	bodyPanicRecoveredByBodyDefer()
}
