// preempt: goroutines spinning in tight loops (no function calls, so only asynchronous
// preemption by SIGURG can interrupt them) while another goroutine defers and recovers.
// Run with GOMAXPROCS=2 to make the scheduler preempt.
package main

import (
	"fmt"
	"sync"
)

//go:noinline
func spin(n int) int {
	x := 0
	for i := 0; i < n; i++ {
		x += i ^ (x >> 3)
	}
	return x
}

//go:noinline
func guarded(i int) (out int) {
	defer func() {
		if recover() != nil {
			out = -1
		}
	}()
	if i%3 == 0 {
		panic("every third")
	}
	return i
}

func main() {
	var wg sync.WaitGroup
	results := make([]int, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			results[w] = spin(20000000 + w)
		}(w)
	}
	sum := 0
	for i := 0; i < 30; i++ {
		sum += guarded(i)
	}
	wg.Wait()
	fmt.Println("guarded sum", sum, "spinners", len(results))
}
