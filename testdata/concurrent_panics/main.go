// concurrent_panics: 100 goroutines panic and recover at the same time. Each goroutine's own
// story is the same; only the interleaving varies.
package main

import (
	"fmt"
	"sync"
	"sync/atomic"
)

var recovered int64

//go:noinline
func work(id int, start <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	defer func() {
		if r := recover(); r != nil {
			atomic.AddInt64(&recovered, 1)
		}
	}()
	<-start
	panic(fmt.Sprintf("goroutine %d", id%1)) // the same value everywhere: "goroutine 0"
}

func main() {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go work(i, start, &wg)
	}
	close(start)
	wg.Wait()
	fmt.Println("recovered", atomic.LoadInt64(&recovered))
}
