// goroutines: several goroutines defer and one recovers; they run one after another so the
// output is the same on every run.
package main

import (
	"fmt"
	"sync"
)

//go:noinline
func worker(id int, wg *sync.WaitGroup, out chan<- string) {
	defer wg.Done()
	defer func() {
		if r := recover(); r != nil {
			out <- fmt.Sprint("worker ", id, " recovered: ", r)
		}
	}()
	if id == 2 {
		panic(fmt.Sprint("worker ", id, " failed"))
	}
	out <- fmt.Sprint("worker ", id, " ok")
}

func main() {
	var wg sync.WaitGroup
	out := make(chan string, 1)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go worker(i, &wg, out)
		fmt.Println(<-out) // one at a time
		wg.Wait()
	}
}
