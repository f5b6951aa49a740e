// defer_edge: less common defer shapes a tracer has to survive.
//   - init has its own deferred call, run before main starts
//   - nilFuncDefer: deferring a nil function value is allowed; the panic comes when the
//     deferred call would run (at the function's exit), and the caller recovers it
//   - conditionalThenPanic: open-coded defers under conditions, then a panic: only the defers
//     whose deferBits are set run during the panic
//   - growWithPending / deep: recursion with large frames so the goroutine stack is copied while
//     open-coded, stack-allocated and heap-allocated defers of many frames are pending; the
//     panic at the bottom is recovered at the top
//   - noExit: a function with no return at all (it ends in an endless loop) whose defer
//     recovers a panic from a callee that first grows the stack
//   - bigArgs: deferred calls with large, non-register arguments, each evaluated exactly once
//   - generic: deferred calls inside a generic function (called twice with one type argument,
//     so there is one instantiation and the compiler's -d=defer report matches the binary)
//   - deferInDeferred: deferred functions that defer calls of their own, with no panic
//   - methodOnEmbedded: deferred promoted methods through an embedded struct and interface
//   - multiLine / multiLineLoop: defer statements whose calls span several lines
//
// Calls sit between consecutive defers and after the last one: without them the compiler may
// merge or sink the defers' bit stores (testdata/merged_defer_bits has those shapes).
package main

import "fmt"

func init() {
	defer fmt.Println("init: deferred call")
	fmt.Println("init: body")
}

//go:noinline
func nilFuncDefer() {
	var f func()
	defer f() // registering is fine; calling it at the exit panics
	fmt.Println("nilFuncDefer: body ran")
}

//go:noinline
func callNilFuncDefer() {
	defer func() {
		fmt.Println("callNilFuncDefer: recovered:", recover())
	}()
	nilFuncDefer()
}

//go:noinline
func conditionalThenPanic(mask int) {
	if mask&1 != 0 {
		defer fmt.Println("conditionalThenPanic: defer 0")
	}
	if mask&2 != 0 {
		defer fmt.Println("conditionalThenPanic: defer 1")
	}
	defer fmt.Println("conditionalThenPanic: defer 2 (always)")
	if mask&4 != 0 {
		defer fmt.Println("conditionalThenPanic: defer 3")
	}
	if mask >= 0 {
		panic(fmt.Sprint("mask ", mask))
	}
	defer fmt.Println("conditionalThenPanic: defer 4 (never registered)")
}

//go:noinline
func runConditional(mask int) {
	defer func() {
		fmt.Println("runConditional: recovered:", recover())
	}()
	conditionalThenPanic(mask)
}

var depthSum int

// deep recurses with a 2 KiB frame. Every level has one open-coded defer; every fourth
// level goes through deepStack (stack-allocated defers) and every fifth through deepHeap
// (a heap-allocated defer), so all three kinds are pending when the stack is copied.
//
//go:noinline
func deep(n int) int {
	var pad [256]int
	pad[n%256] = n
	defer func() { depthSum += pad[n%256] }()
	switch {
	case n == 0:
		panic("bottom reached")
	case n%5 == 0:
		return deepHeap(n - 1)
	case n%4 == 0:
		return deepStack(n - 1)
	}
	return deep(n-1) + pad[0]
}

// A loop defer makes the frame heap-allocate that record; the other defer is then
// stack-allocated.
//
//go:noinline
func deepHeap(n int) int {
	for i := 0; i < 1; i++ {
		defer func() { depthSum += 1000 }()
	}
	defer func() { depthSum += 100000 }()
	return deep(n)
}

// Two defers and eight return statements exceed the open-coding limit (16 > 15), so both
// defers are stack-allocated.
//
//go:noinline
func deepStack(n int) int {
	defer func() { depthSum += 1 }()
	defer func() { depthSum += 1 }()
	switch n % 8 {
	case 0:
		return deep(n)
	case 1:
		return deep(n)
	case 2:
		return deep(n)
	case 3:
		return deep(n)
	case 4:
		return deep(n)
	case 5:
		return deep(n)
	case 6:
		return deep(n)
	}
	return deep(n)
}

//go:noinline
func growWithPending() {
	defer func() {
		fmt.Println("growWithPending: recovered:", recover(), "depthSum:", depthSum)
	}()
	deep(100)
}

//go:noinline
func growThenPanic(n int) {
	var pad [128]int
	if n > 0 {
		pad[n%128] = n
		growThenPanic(n - 1)
		return
	}
	panic("grown")
}

// noExit never returns normally: its only way out is the recovery of the panic raised by
// growThenPanic, after which the function returns to main through its deferred call.
//
//go:noinline
func noExit() {
	state := 1
	defer func() {
		fmt.Println("noExit: recovered:", recover(), "state:", state)
	}()
	state = 2
	growThenPanic(200)
	for {
	}
}

type big struct {
	a, b, c, d, e, f int64
}

var argEvals int

//go:noinline
func makeArray() [64]byte {
	argEvals++
	var a [64]byte
	a[7] = 7
	return a
}

//go:noinline
func makeBig(n int64) big {
	argEvals++
	return big{1, 2, 3, 4, 5, n}
}

//go:noinline
func bigArgs() {
	defer func() {
		fmt.Println("bigArgs: argument evaluations:", argEvals)
	}()
	defer func(a [64]byte) {
		fmt.Println("bigArgs: array element", a[7])
	}(makeArray())
	defer func(b big, s string) {
		fmt.Println("bigArgs: struct field", b.f, s)
	}(makeBig(6), "and a string")
	fmt.Println("bigArgs: body")
}

//go:noinline
func generic[T any](v T) {
	defer fmt.Println("generic: deferred print of", v)
	fmt.Println("generic: between the defers")
	defer func() {
		fmt.Printf("generic: deferred closure sees %v\n", v)
	}()
	fmt.Println("generic: body ends")
}

//go:noinline
func deferInDeferred() {
	defer func() {
		defer fmt.Println("deferInDeferred: innermost deferred call")
		fmt.Println("deferInDeferred: deferred function body")
	}()
	fmt.Println("deferInDeferred: body")
}

type base struct{ name string }

func (b base) Describe() { fmt.Println("describe", b.name) }
func (b *base) Release() { fmt.Println("release", b.name) }

type wrapper struct {
	base
	extra int
}

type releaser interface{ Release() }

//go:noinline
func methodOnEmbedded() {
	w := &wrapper{base: base{name: "embedded"}, extra: 1}
	var r releaser = w
	defer w.Describe() // promoted value method: w.base copied now
	defer r.Release()  // promoted pointer method through an interface
	w.name = "renamed"
	fmt.Println("methodOnEmbedded: body renamed the base")
}

// multiLine spreads defer statements over several lines: the compiler reports each at the
// line of its defer keyword, while the argument expressions sit on the lines below.
//
//go:noinline
func multiLine(n int) {
	defer fmt.Println(
		"multiLine: open-coded, arguments on later lines:",
		n,
		n*2,
	)
	fmt.Println("multiLine: between the defers")
	defer func(
		a int,
		b string,
	) {
		fmt.Println("multiLine: closure with parameters on later lines:", a, b)
	}(
		n+1,
		"last line",
	)
	fmt.Println("multiLine: body ends")
}

//go:noinline
func multiLineLoop(n int) {
	for i := 0; i < n; i++ {
		defer fmt.Println(
			"multiLineLoop: heap-allocated, iteration",
			i,
		)
	}
}

func main() {
	callNilFuncDefer()
	runConditional(5)
	runConditional(2)
	growWithPending()
	noExit()
	bigArgs()
	generic(42)
	generic(-1)
	deferInDeferred()
	methodOnEmbedded()
	multiLine(3)
	multiLineLoop(2)
}
