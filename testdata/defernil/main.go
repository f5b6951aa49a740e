// defernil: the shape of Go's test/defernil.go (issues 8047 and 34926): deferring a nil func
// value is allowed, and the panic (a nil-dereference runtime error) comes only when the deferred
// call runs. In deferNil and deferNilAfterOther the defer of `nilf()` (nilf a local nil func)
// is followed only by a write of a global, so nothing between the statement and the exit can
// panic: the compiler drops the store that sets the defer's bit (dead before the exit clears
// it), and what is left of the statement is the store of the nil closure into its slot, a store
// of zero like the prologue's zeroing of that slot. Since Go 1.25 the exit also calls through a
// register zeroed in place rather than reloading the slot. Wherever the deferred call runs,
// loading the code pointer out of the nil funcval faults just before the call instruction.
//   - deferNil: the only defer of its frame
//   - deferNilAfterOther: the nil defer is the second one; it runs first, panics, and the
//     panic then runs the first
//   - deferNilBeforeOther: the nil defer is the first one; it runs last, after the other
//   - deferNilInLoop: a heap-allocated defer of a nil func, whose call faults inside
//     runtime.deferreturn
//   - nilDuringPanic / nilDuringPanicLinked: a panic runs the nil deferred call (open-coded,
//     then heap-allocated); the nil-dereference panic it raises is the one recovered, and the
//     first panic is aborted
//
// A caller's deferred closure recovers each panic and checks that the body and the other
// deferred call ran.
package main

import "fmt"

var ran, after, before, looped int

//go:noinline
func deferNil() {
	var nilf func()
	defer nilf()
	ran = 1
}

//go:noinline
func deferNilAfterOther() {
	defer func() { after++ }()
	var nilf func()
	defer nilf()
	after = 10
}

//go:noinline
func deferNilBeforeOther() {
	var nilf func()
	defer nilf()
	defer func() { before++ }()
	before = 20
}

//go:noinline
func deferNilInLoop(n int) {
	var nilf func()
	for i := 0; i < n; i++ {
		defer nilf()
	}
	looped = n
}

//go:noinline
func nilDuringPanic(fail bool) {
	var nilf func()
	defer nilf()
	if fail {
		panic("open-coded: not the panic recovered")
	}
}

//go:noinline
func nilDuringPanicLinked(n int) {
	var nilf func()
	for i := 0; i < n; i++ {
		defer nilf()
	}
	panic("heap: not the panic recovered")
}

// check gets the value the deferred closure's own recover() returned: a recover() in check
// would be one call level too deep and return nil.
func check(name string, want int, got *int, err interface{}) {
	if err == nil {
		panic(name + ": did not panic")
	}
	if *got != want {
		panic(fmt.Sprintf("%s: body result %d, want %d", name, *got, want))
	}
	fmt.Printf("%s: recovered %v\n", name, err)
}

func runDeferNil() {
	defer func() { check("deferNil", 1, &ran, recover()) }()
	deferNil()
}

func runDeferNilAfterOther() {
	defer func() { check("deferNilAfterOther", 11, &after, recover()) }()
	deferNilAfterOther()
}

func runDeferNilBeforeOther() {
	defer func() { check("deferNilBeforeOther", 21, &before, recover()) }()
	deferNilBeforeOther()
}

func runDeferNilInLoop() {
	defer func() { check("deferNilInLoop", 1, &looped, recover()) }()
	deferNilInLoop(1)
}

func runNilDuringPanic() {
	defer func() {
		err := recover()
		fmt.Printf("nilDuringPanic: recovered %v\n", err)
	}()
	nilDuringPanic(true)
}

func runNilDuringPanicLinked() {
	defer func() {
		err := recover()
		fmt.Printf("nilDuringPanicLinked: recovered %v\n", err)
	}()
	nilDuringPanicLinked(1)
}

func main() {
	runDeferNil()
	runDeferNilAfterOther()
	runDeferNilBeforeOther()
	runDeferNilInLoop()
	runNilDuringPanic()
	runNilDuringPanicLinked()
	fmt.Println("done")
}
