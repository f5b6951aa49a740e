// Shapes the random programs of tests/gen found deftrace wrong on, reduced by hand.
package main

import "fmt"

var sink int

//go:noinline
func named(id int) { fmt.Println("deferred", id) }

// A conditional open-coded defer after an unconditional one. At the exit, Go 1.27 tests the
// conditional defer's bit in a register and, on that path, stores the constant it knows the
// bits hold without it (`test $2,%al; je; movb $1,bits`): the exit of bit 1 looked like a
// registration of bit 0, and its deferred call was never reported.
func conditionalAfterUnconditional() {
	defer named(1)
	if sink >= 0 {
		defer named(2)
	}
	sink++
}

// The same with three defers, the conditional one in the middle: there the store is the target
// of a `jne` after the test.
func conditionalInTheMiddle() {
	defer named(3)
	if sink >= 0 {
		defer named(4)
	}
	defer named(5)
	sink++
}

// A nested panic recovered while a deferred call of another panic runs, in a function with an
// open-coded defer of its own: that function returns (its deferred call runs) before the outer
// panic is recovered. The model had seen the pending defer in the nested panic's snapshot and,
// not probing every defer in the default scope, took it for one never run.
func recovers() {
	defer func() {
		if r := recover(); r != nil {
			fmt.Println("inner recovered", r)
		}
	}()
	panic("inner")
}

func nestedPanicRecoveredDuringAnother() {
	defer func() {
		func() {
			defer func() {
				fmt.Println("no panic here:", recover())
			}()
			recovers()
		}()
		fmt.Println("outer recovered", recover())
	}()
	panic("outer")
}

// `defer recover()` in a deferred function run by a panic that a deferred call run by
// runtime.deferreturn raised (the loop defer makes every defer of the frame a linked record).
// The frame that executed the defer statement is that deferred function: the search for it went
// on past its inline exit to the deferreturn that ran the panicking call, found the frame above
// that one, and the model (1.19-1.25, gorecover's argp rule) expected no recovery.
func deferRecoverWhenDeferreturnPanics() {
	defer func() { defer recover() }()
	for i := 0; i < 1; i++ {
		defer func() { panic("from a deferred call run on return") }()
	}
}

func main() {
	deferRecoverWhenDeferreturnPanics()
	fmt.Println("recovered by defer recover()")
	conditionalAfterUnconditional()
	conditionalInTheMiddle()
	nestedPanicRecoveredDuringAnother()
}
