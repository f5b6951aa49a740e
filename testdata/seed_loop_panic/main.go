// seed_loop_panic: article 002's loop example, rewritten. main defers a two-result function
// twice from a loop (heap-allocated defers, results discarded) and one print outside the loop,
// then panics without recovering: all three deferred calls run, last-in first-out, before the
// program dies with "panic: 11" (exit status 2).
package main

import "fmt"

//go:noinline
func pair(i int) (int, int) {
	fmt.Println("deferred pair from iteration", i)
	return i, 7
}

func main() {
	defer fmt.Println("deferred print registered before the loop")
	for i := 1; i <= 2; i++ {
		defer pair(i)
	}
	panic("11")
}
