// rangefunc: defer inside a range-over-func loop body belongs to the enclosing function
// (runtime.deferprocat), and a panic in the body is recovered outside the loop.
package main

import "fmt"

func seq(n int) func(func(int) bool) {
	return func(yield func(int) bool) {
		for i := 0; i < n; i++ {
			if !yield(i) {
				return
			}
		}
	}
}

//go:noinline
func body() {
	for i := range seq(3) {
		defer fmt.Println("range defer", i)
	}
	fmt.Println("range loop done")
}

//go:noinline
func panicky() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("recovered: %v", r)
		}
	}()
	for i := range seq(5) {
		if i == 2 {
			panic("range body panic")
		}
	}
	return nil
}

func main() {
	body()
	fmt.Println(panicky())
}
