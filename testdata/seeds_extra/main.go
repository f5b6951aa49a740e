// seeds_extra: further shapes from the project's source articles, rewritten (the `seeds`
// program has the first batch).
//   - unnamedResult / pointerResult / namedResult: deferred closures run after the return
//     value is fixed; they can change it only through a named result (article 002)
//   - deferredPanics: nothing panics in the body, but at the return the deferred calls panic one
//     after another; the earliest-registered deferred call recovers the newest panic (article 001)
//   - secondRecoverSeesNil / recoverThenPanicAgain: two deferred recovers; after the first
//     stops the panic the second sees nil, unless the first panics again (article 002)
//   - capturedLocals: open-coded deferred closures capturing locals, one of which recovers a
//     panic raised in a callee (article 003)
//   - escapeThenDefer: a value escapes, then a closure and a closure with an argument are
//     deferred (article 004)
//   - deadDefer: a defer statement after an unconditional panic is dead code and never
//     registered; a defer under a false constant is removed as well
package main

import "fmt"

//go:noinline
func unnamedResult() int {
	var i int
	defer func() {
		i++
		fmt.Println("unnamedResult: second deferred sees", i)
	}()
	defer func() {
		i++
		fmt.Println("unnamedResult: first deferred sees", i)
	}()
	return i // the result is copied here; later changes to i are not seen by the caller
}

//go:noinline
func pointerResult() *int {
	var i int
	defer func() {
		i++
		fmt.Println("pointerResult: second deferred sees", i)
	}()
	defer func() {
		i++
		fmt.Println("pointerResult: first deferred sees", i)
	}()
	return &i // i lives on the heap; the caller reads it after both deferred calls
}

//go:noinline
func namedResult() (i int) {
	defer func() {
		i++
		fmt.Println("namedResult: second deferred sees", i)
	}()
	defer func() {
		i++
		fmt.Println("namedResult: first deferred sees", i)
	}()
	return i // sets the named result to 0, then the deferred calls add to it
}

// The body never panics. At the return, the last deferred call panics with "B", the middle one
// panics with "A" while B is in progress (B is aborted), and the first one recovers A.
//
//go:noinline
func deferredPanics() {
	defer func() {
		if r := recover(); r != nil {
			fmt.Println("deferredPanics: recovered", r)
		}
	}()
	defer func() {
		panic("A")
	}()
	defer func() {
		panic("B")
	}()
	fmt.Println("deferredPanics: body returns normally")
}

//go:noinline
func secondRecoverSeesNil() {
	defer func() {
		fmt.Println("secondRecoverSeesNil: outer defer, recover gives", recover())
	}()
	defer func() {
		fmt.Println("secondRecoverSeesNil: inner defer, recover gives", recover())
	}()
	panic("p11")
}

//go:noinline
func recoverThenPanicAgain() {
	defer func() {
		fmt.Println("recoverThenPanicAgain: outer defer, recover gives", recover())
	}()
	defer func() {
		r := recover()
		fmt.Println("recoverThenPanicAgain: inner defer, recover gives", r)
		if r != nil {
			panic(fmt.Sprint(r, " then p2222"))
		}
	}()
	panic("p11")
}

//go:noinline
func raise() {
	panic("raised by callee")
}

//go:noinline
func capturedLocals() {
	a, b, c := 10, 20, 30
	defer func() {
		fmt.Println("capturedLocals: a =", a)
	}()
	defer func() {
		if r := recover(); r != nil {
			fmt.Println("capturedLocals: recovered", r)
		}
		fmt.Println("capturedLocals: c =", c)
	}()
	defer func() {
		fmt.Println("capturedLocals: b =", b)
	}()
	raise()
	fmt.Println("capturedLocals: not reached")
}

var sink interface{}

//go:noinline
func escapes(v interface{}) { sink = v }

//go:noinline
func escapeThenDefer() {
	v := 1
	escapes(v)
	defer func() {
		fmt.Println("escapeThenDefer: plain closure")
	}()
	fmt.Println("escapeThenDefer: between the defers") // keeps the two bit stores apart
	defer func(x int) {
		fmt.Println("escapeThenDefer: closure got argument", x)
	}(v)
	v = 99
	fmt.Println("escapeThenDefer: body, v =", v)
}

const verbose = false

//go:noinline
func deadDefer() {
	defer func() {
		fmt.Println("deadDefer: recovered", recover())
	}()
	if verbose {
		defer fmt.Println("deadDefer: removed by the compiler")
	}
	panic("stop")
	defer fmt.Println("deadDefer: unreachable, never registered")
}

func main() {
	fmt.Println("unnamedResult returned", unnamedResult())
	fmt.Println("pointerResult points at", *pointerResult())
	fmt.Println("namedResult returned", namedResult())
	deferredPanics()
	secondRecoverSeesNil()
	recoverThenPanicAgain()
	capturedLocals()
	escapeThenDefer()
	deadDefer()
}
