// Many goroutines registering and running defers at once: with probes that record without a stop
// (arch/record_stub.h), their records interleave in the ring, fill it (the tests give it a few
// slots only), and must still tell each goroutine's story in its order.
package main

import (
	"fmt"
	"sync"
)

const workers, rounds = 4, 10

var ran [workers]int

// Two open-coded defers, the second changing the result.
func work(id, i int) (n int) {
	defer func() { ran[id]++ }()
	defer func() { n++ }()
	return i
}

// Defers in a loop: on the heap.
func heapDefers(id int) {
	for i := 0; i < 3; i++ {
		defer func() { ran[id]++ }()
	}
}

func main() {
	var wg sync.WaitGroup
	var mu sync.Mutex
	sum := 0
	for id := 0; id < workers; id++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			s := 0
			for i := 0; i < rounds; i++ {
				s += work(id, i)
			}
			heapDefers(id)
			mu.Lock()
			defer mu.Unlock()
			sum += s
		}(id)
	}
	wg.Wait()
	total := 0
	for _, n := range ran {
		total += n
	}
	fmt.Println("results:", sum, "deferred calls:", total)
}
