// goexit_edge: runtime.Goexit meeting panics, and Goexit on the main goroutine.
//   - goexitDuringPanic: a goroutine panics and one of its deferred calls calls Goexit; the
//     goroutine just ends (its remaining deferred calls still run) and the panic is dropped
//   - panicDuringGoexit: a goroutine calls Goexit and a deferred call panics; an earlier
//     deferred call recovers that panic, and Goexit then carries on ending the goroutine (the
//     code after the recovering function's call site never runs)
//   - goexitFromDeferred: a deferred call made on a normal return calls Goexit; the remaining
//     deferred calls run and the caller never sees the return
//   - finally main itself calls Goexit with deferred calls pending: they run, and since no
//     goroutine is left the runtime reports
//     "fatal error: no goroutines (main called runtime.Goexit) - deadlock!" (exit status 2)
package main

import (
	"fmt"
	"runtime"
)

//go:noinline
func goexitDuringPanic(done chan struct{}) {
	defer close(done)
	defer fmt.Println("goexitDuringPanic: earlier deferred call still runs")
	defer func() {
		fmt.Println("goexitDuringPanic: deferred call calls Goexit while panicking")
		runtime.Goexit()
	}()
	panic("dropped by Goexit")
}

//go:noinline
func panicDuringGoexit(done chan struct{}) {
	defer close(done)
	defer fmt.Println("panicDuringGoexit: outermost deferred call")
	guarded()
	fmt.Println("panicDuringGoexit: not reached")
}

//go:noinline
func guarded() {
	defer func() {
		fmt.Println("guarded: recovered during Goexit:", recover())
	}()
	defer func() {
		panic("raised while Goexit runs defers")
	}()
	runtime.Goexit()
}

//go:noinline
func goexitFromDeferred(done chan struct{}) {
	defer close(done)
	defer fmt.Println("goexitFromDeferred: outer deferred call")
	v := returnsThenExits()
	fmt.Println("goexitFromDeferred: not reached", v)
}

//go:noinline
func returnsThenExits() int {
	defer fmt.Println("returnsThenExits: last deferred call")
	defer runtime.Goexit()
	fmt.Println("returnsThenExits: returning 5")
	return 5
}

func run(name string, f func(chan struct{})) {
	done := make(chan struct{})
	go f(done)
	<-done
	fmt.Println("main:", name, "finished")
}

func main() {
	run("goexitDuringPanic", goexitDuringPanic)
	run("panicDuringGoexit", panicDuringGoexit)
	run("goexitFromDeferred", goexitFromDeferred)
	defer fmt.Println("main: deferred call runs after main's Goexit")
	fmt.Println("main: calling Goexit")
	runtime.Goexit()
}
