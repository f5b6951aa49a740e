// merged_defer_bits: open-coded defers whose compiled code does not have one deferBits store
// per defer statement, although -gcflags=-d=defer reports every statement as "open-coded
// defer" on every release.
//   - threeStatic: after a call, a defer of an empty function literal and two defers of a
//     static function with constant arguments, with nothing that can panic between them.
//     Every release (1.19-1.27) sets the three bits with a single store, placed at the line of
//     the last defer statement.
//   - lastDeferNoCall: two defers and nothing that can panic after the second one. No release
//     ever sets the second defer's bit (the store is dead: the return calls that defer
//     unconditionally). Go 1.19-1.24 still list it in FUNCDATA_OpenCodedDeferInfo, with a
//     closure slot, and set the first defer's bit at the first defer statement. From Go 1.25
//     the FUNCDATA lists one defer where the source has two, and the first defer's bit store
//     sinks to the return line.
//   - foldedLastDefer: four deferred builtins, the last `defer recover()`, with nothing that can
//     panic after the third. Go 1.26+ folds the last registrations into the return: a single
//     store sets the third defer's bit (at the return's line) and the fourth defer's call
//     follows it unconditionally, its bit never stored; only its closure slot is written, at its
//     statement.
//
// A tracer that attributes open-coded defers by the PC of the bit store, or counts them from
// the FUNCDATA, sees fewer defers or wrong lines here. Each statement's true line is still
// recoverable from the call made at the return (the deferred function or its compiler-made
// wrapper carries the defer statement's position).
package main

import "fmt"

var log []string

//go:noinline
func note(s string) { log = append(log, s) }

//go:noinline
func threeStatic() {
	note("threeStatic: start")
	defer func() {}()
	defer note("threeStatic: deferred 2")
	defer note("threeStatic: deferred 1")
	note("threeStatic: body")
}

//go:noinline
func lastDeferNoCall(n int) {
	defer fmt.Println("lastDeferNoCall: first defer, n =", n)
	defer func(m int) {
		fmt.Println("lastDeferNoCall: second defer, m =", m)
	}(n + 1)
}

//go:noinline
func foldedLastDefer(x int) {
	defer println("foldedLastDefer: x =", x)
	defer print("foldedLastDefer: bye\n")
	defer close(make(chan int))
	defer recover()
}

func main() {
	threeStatic()
	for _, s := range log {
		fmt.Println(s)
	}
	lastDeferNoCall(3)
	foldedLastDefer(42)
}
