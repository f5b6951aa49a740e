// rangefunc_more: defers and panics around range-over-func loops (Go 1.23+). A defer in a
// loop body belongs to the function containing the loop, not to the compiler-made body closure
// nor to the iterator (the compiler registers it with runtime.deferprocat and reports it as
// heap-allocated).
//   - nested: two nested range-over-func loops deferring in the inner body
//   - breakEarly: break out of the loop; the iterator's own deferred cleanup runs when the
//     iterator returns, the body's defers only when the enclosing function returns
//   - returnFromBody: a return statement inside the body with defers pending, changing a named
//     result in a deferred closure
//   - iteratorPanics: the iterator itself panics between two yields; the body's defers and the
//     iterator's own defer run, and the enclosing function's deferred recover catches it
//     (a recover deferred *inside* the body is in testdata/rangefunc_body_recover: Go 1.23.5
//     mishandles it)
//   - iteratorSwallowsBodyPanic: the body panics and the *iterator* recovers it; that is not
//     allowed, so the enclosing function gets a runtime error panic, which it recovers
//   - badIterator: an iterator that keeps calling yield after the body said stop; the runtime
//     panics and the enclosing function recovers that runtime error
//   - stdlibIterator: defers in a loop over slices.All, an iterator from the standard library
//
// The iterator factories are //go:noinline: if one were inlined into several callers, its
// closure (with its defer) would be compiled once per caller while -d=defer, which drops
// repeated identical messages, would still report the defer once.
package main

import (
	"fmt"
	"slices"
)

// count yields 0..n-1 and defers a note of its own, so the iterator's defers are visible.
//
//go:noinline
func count(name string, n int) func(func(int) bool) {
	return func(yield func(int) bool) {
		defer fmt.Println("  iterator", name, "cleanup")
		for i := 0; i < n; i++ {
			if !yield(i) {
				return
			}
		}
	}
}

//go:noinline
func nested() {
	for i := range count("outer", 2) {
		for j := range count("inner", 2) {
			defer fmt.Println("  nested: body defer", i, j)
		}
	}
	fmt.Println("  nested: loops finished")
}

//go:noinline
func breakEarly() {
	for i := range count("breaking", 10) {
		defer fmt.Println("  breakEarly: body defer", i)
		if i == 1 {
			break
		}
	}
	fmt.Println("  breakEarly: after the loop")
}

//go:noinline
func returnFromBody() (result string) {
	defer func() { result += " (seen by the function's own defer)" }()
	for i := range count("returning", 5) {
		defer func() { result += fmt.Sprint(" +body defer ", i) }()
		if i == 2 {
			return fmt.Sprint("returned at ", i)
		}
	}
	return "loop ended"
}

//go:noinline
func faulty(n int) func(func(int) bool) {
	return func(yield func(int) bool) {
		defer fmt.Println("  faulty iterator: deferred before the panic")
		for i := 0; i < n; i++ {
			if i == 2 {
				panic("iterator failed at 2")
			}
			if !yield(i) {
				return
			}
		}
	}
}

//go:noinline
func iteratorPanics() {
	defer func() {
		fmt.Println("  iteratorPanics: recovered:", recover())
	}()
	for i := range faulty(5) {
		defer fmt.Println("  iteratorPanics: body defer", i)
	}
	fmt.Println("  iteratorPanics: not reached")
}

//go:noinline
func forgiving(n int) func(func(int) bool) {
	return func(yield func(int) bool) {
		defer func() {
			if r := recover(); r != nil {
				fmt.Println("  forgiving iterator recovered:", r)
			}
		}()
		for i := 0; i < n; i++ {
			if !yield(i) {
				return
			}
		}
	}
}

// The iterator recovers the body's panic and returns as if the loop were done; Go does not
// allow an iterator to swallow a body panic, so at the loop's end the enclosing function
// panics with a runtime error, which its own deferred recover catches.
//
//go:noinline
func iteratorSwallowsBodyPanic() {
	defer func() {
		fmt.Println("  iteratorSwallowsBodyPanic: recovered:", recover())
	}()
	for i := range forgiving(4) {
		defer fmt.Println("  iteratorSwallowsBodyPanic: body defer", i)
		if i == 1 {
			panic("body failed at 1")
		}
	}
	fmt.Println("  iteratorSwallowsBodyPanic: not reached")
}

func stubborn(yield func(int) bool) {
	for i := 0; i < 3; i++ {
		yield(i) // ignores false: a contract violation the runtime detects
	}
}

//go:noinline
func badIterator() {
	defer func() {
		fmt.Println("  badIterator: recovered:", recover())
	}()
	for i := range stubborn {
		defer fmt.Println("  badIterator: body defer", i)
		if i == 0 {
			break
		}
	}
	fmt.Println("  badIterator: not reached")
}

//go:noinline
func stdlibIterator() {
	words := []string{"alpha", "beta", "gamma"}
	for i, w := range slices.All(words) {
		defer fmt.Println("  stdlibIterator: body defer", i, w)
	}
	fmt.Println("  stdlibIterator: loop done")
}

func main() {
	fmt.Println("nested:")
	nested()
	fmt.Println("breakEarly:")
	breakEarly()
	fmt.Println("returnFromBody:")
	fmt.Println("  result:", returnFromBody())
	fmt.Println("iteratorPanics:")
	iteratorPanics()
	fmt.Println("iteratorSwallowsBodyPanic:")
	iteratorSwallowsBodyPanic()
	fmt.Println("badIterator:")
	badIterator()
	fmt.Println("stdlibIterator:")
	stdlibIterator()
}
