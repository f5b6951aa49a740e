// recover_patterns: which recover() calls stop a panic and which return nil.
package main

import (
	"errors"
	"fmt"
)

type myErr struct{ code int }

func (e *myErr) Error() string { return fmt.Sprintf("my error %d", e.code) }

type color int

func (c color) String() string { return "color" }

func report(tag string) {
	if r := recover(); r != nil {
		fmt.Println(tag, "recovered:", r)
	}
}

// recover called from a helper of the deferred function: too deep, returns nil.
func helperRecover() interface{} { return recover() }

//go:noinline
func direct() {
	defer func() {
		r := recover()
		fmt.Println("direct recovered:", r)
	}()
	panic("boom")
}

//go:noinline
func viaHelper() {
	defer report("outer") // catches what the inner helper could not
	defer func() {
		fmt.Println("helper got:", helperRecover())
	}()
	panic("deep")
}

//go:noinline
func deferRecoverDirectly() {
	defer report("fallback")
	defer recover() // recover is not called *by* a deferred function here: nil
	panic("direct-defer")
}

//go:noinline
func repanic() {
	defer report("second")
	defer func() {
		r := recover()
		fmt.Println("first recovered:", r)
		panic(fmt.Sprint("again: ", r))
	}()
	panic("original")
}

//go:noinline
func nestedPanics() {
	defer report("nested")
	defer func() {
		panic("while panicking")
	}()
	panic("first")
}

//go:noinline
func recoveredInside() {
	defer report("never")
	defer func() {
		defer func() {
			fmt.Println("inner recovered:", recover())
		}()
		panic("in deferred call")
	}()
	fmt.Println("recoveredInside body")
}

func runtimeErrors() {
	try := func(name string, f func()) {
		defer func() {
			r := recover()
			fmt.Println(name+":", r)
		}()
		f()
	}
	var m map[string]int
	var p *myErr
	s := []int{1, 2, 3}
	i, zero := 5, 0
	try("nil map", func() { m["x"] = 1 })
	try("index", func() { _ = s[i] })
	try("nil deref", func() { _ = p.code })
	try("divide", func() { _ = i / zero })
	try("custom error", func() { panic(&myErr{7}) })
	try("errors.New", func() { panic(errors.New("plain")) })
	try("fmt.Errorf", func() { panic(fmt.Errorf("wrapped: %w", errors.New("cause"))) })
	try("stringer", func() { panic(color(3)) })
	try("int", func() { panic(42) })
}

func main() {
	direct()
	viaHelper()
	deferRecoverDirectly()
	repanic()
	nestedPanics()
	recoveredInside()
	runtimeErrors()
	fmt.Println("recover() outside a panic:", recover())
}
