// Probe program for scripts/gen-layouts.sh. It exists only so that the linker emits DWARF for
// every runtime structure deftrace reads (g, m, _defer, _panic, type descriptors, itabs,
// boundsError): each feature below makes runtime code that uses one of them reachable.
// Its output does not matter; it is built, never run, by the script.
package main

import (
	"errors"
	"fmt"
	"os"
)

type shape interface{ area() float64 }

type square struct{ side float64 }

func (s square) area() float64 { return s.side * s.side }

// index panics with a runtime.boundsError when i is out of range; the deferred closure recovers.
func index(xs []int, i int) (v int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("recovered: %v", r)
		}
	}()
	return xs[i], nil
}

// loopDefers defers in a loop, which is never open-coded, so deferproc and heap _defer
// records are linked in.
func loopDefers(n int) (sum int) {
	for i := 0; i < n; i++ {
		defer func(k int) { sum += k }(i)
	}
	return 0
}

// customPanic panics with an interface value that is not an error, so the runtime prints it
// through its type descriptor and itab.
func customPanic() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New(fmt.Sprint(r))
		}
	}()
	var s shape = square{side: float64(len(os.Args))}
	panic(s)
}

func main() {
	done := make(chan error)
	go func() {
		defer close(done)
		_, err := index([]int{1, 2, 3}, len(os.Args)+5)
		done <- err
	}()
	fmt.Println(<-done)
	fmt.Println(loopDefers(len(os.Args) + 2))
	fmt.Println(customPanic())
}
