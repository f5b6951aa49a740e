// runtime_issues: scenarios behind bugs fixed in the Go runtime's defer/panic code
// (Go issues 43920, 43921, 43941, 37664 and the runtime's "aborted panic" and "recover
// matching" rules), rewritten as a standalone program that prints the order of events.
//   - nestedRecoverKeepsOuter (43921 shape): a frame that cannot use open-coded defers (a
//     defer in a loop) panics; one of its deferred calls panics and recovers its own second
//     panic; the first panic must go on and reach the caller's recover.
//   - deferredBuiltinPanics (43920 shape): `defer panic(v)` statements at several depths; each
//     new panic is recovered where intended and the original reaches the top.
//   - layeredFrames (43941 shape): panics raised and recovered in nested frames, with
//     open-coded and stack defers in between, and a step counter proving the order.
//     (Calls separate consecutive defers here and in the other programs: without them the
//     compiler may merge the defers' bit stores; testdata/merged_defer_bits has that shape.)
//   - abortedPanic: a deferred call panics during a panic; recovering the second panic also
//     discards the first, so a later recover gets nil.
//   - recoverTooDeep: recover() in a function deferred *by a deferred function* is not called
//     directly by the panic and returns nil.
//   - interpreter (37664 shape): a recursive function whose every level recovers and
//     re-panics until the level named in the panic value handles it; afterwards a plain
//     panic/recover through the same stack depth must not meet stale defer records.
package main

import "fmt"

var steps int

// step prints the event with a running number so the order is visible in the output.
func step(what string) {
	steps++
	fmt.Printf("  step %d: %s\n", steps, what)
}

// catch is deferred directly, so its recover() is called by the deferred function itself.
func catch(tag string) {
	r := recover()
	step(fmt.Sprint(tag, " recovered ", r))
}

//go:noinline
func nestedRecoverKeepsOuter() {
	defer catch("caller")
	frameWithoutOpenDefers()
	step("not reached")
}

//go:noinline
func frameWithoutOpenDefers() {
	for i := 0; i < 1; i++ {
		defer step("loop defer (heap record)")
	}
	defer func() {
		defer func() {
			step(fmt.Sprint("own panic recovered inside the deferred call: ", recover()))
		}()
		panic("inner")
	}()
	panic("outer")
}

//go:noinline
func deferredBuiltinPanics() {
	defer catch("top")
	defer func() {
		defer func() {
			defer catch("level 3")
			defer panic("deferred panic C")
			raise("panic B")
		}()
		defer catch("level 2")
		defer panic("deferred panic A")
	}()
	func() {
		defer step("innermost deferred step")
		raise("original")
	}()
}

//go:noinline
func raise(v string) {
	panic(v)
}

//go:noinline
func layeredFrames() {
	defer catch("outermost")
	func() {
		func() {
			defer func() {
				defer catch("third frame")
				defer panic("x3")
				panic("x2")
			}()
			defer catch("x1 handler")
			defer panic("x1")
		}()
		defer func() {}()
		step("middle frame body, part 1")
		defer step("middle frame deferred 2")
		step("middle frame body, part 2")
		defer step("middle frame deferred 1")
		step("middle frame body, part 3")
	}()
	func() {
		defer step("last frame deferred 2")
		defer step("last frame deferred 1")
		func() {
			defer step("innermost deferred")
			raise("x4")
		}()
	}()
}

//go:noinline
func abortedPanic() {
	defer func() {
		step(fmt.Sprint("after the abort recover gives ", recover()))
	}()
	defer catch("second panic's handler")
	defer func() {
		panic("second")
	}()
	panic("first")
}

//go:noinline
func recoverTooDeep() {
	defer catch("direct handler")
	defer func() {
		defer func() {
			step(fmt.Sprint("recover two deferrals deep gives ", recover()))
		}()
	}()
	panic("needs a direct deferral")
}

// interpreter recurses to max levels, panics with target at the bottom, and each level
// re-panics until the level equal to target recovers.
//
//go:noinline
func interpreter(level, max, target int) {
	defer func() {
		e := recover()
		if e == nil {
			return
		}
		if e.(int) != level {
			panic(e)
		}
		step(fmt.Sprint("interpreter level ", level, " handled the panic"))
	}()
	if level+1 < max {
		interpreter(level+1, max, target)
		return
	}
	panic(target)
}

//go:noinline
func fillStack(level, max int) int {
	var pad [40]uint32
	for i := range pad {
		pad[i] = 0xffffffff
	}
	if level+1 < max {
		return int(pad[level%40]&1) + fillStack(level+1, max)
	}
	panic("plain panic through filled frames")
}

//go:noinline
func plainPanic() {
	defer catch("after interpreter")
	fillStack(0, 10)
}

func main() {
	fmt.Println("nestedRecoverKeepsOuter:")
	nestedRecoverKeepsOuter()
	fmt.Println("deferredBuiltinPanics:")
	deferredBuiltinPanics()
	fmt.Println("layeredFrames:")
	layeredFrames()
	fmt.Println("abortedPanic:")
	abortedPanic()
	fmt.Println("recoverTooDeep:")
	recoverTooDeep()
	fmt.Println("interpreter:")
	interpreter(0, 6, 2)
	plainPanic()
	interpreter(0, 5, 1)
	plainPanic()
	interpreter(0, 6, 3)
	plainPanic()
	fmt.Println("steps:", steps)
}
