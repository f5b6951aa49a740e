// loops: a defer inside a loop cannot be open-coded nor kept in the frame (one record per
// iteration), so it is heap-allocated; a closure deferred in a loop captures a copy.
package main

import "fmt"

//go:noinline
func inLoop(n int) {
	for i := 0; i < n; i++ {
		defer fmt.Println("loop defer", i)
	}
	fmt.Println("loop body done")
}

//go:noinline
func closureInLoop(n int) (sum int) {
	for i := 0; i < n; i++ {
		v := i
		defer func() {
			sum += v
		}()
	}
	return 0
}

//go:noinline
func nested(n int) {
	for i := 0; i < n; i++ {
		for j := 0; j < 2; j++ {
			a, b := i, j
			defer fmt.Println("nested", a, b)
		}
	}
}

func main() {
	inLoop(3)
	fmt.Println("sum", closureInLoop(4))
	nested(2)
}
