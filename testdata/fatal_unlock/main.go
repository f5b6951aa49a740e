// fatal_unlock: unlocking a sync.Mutex that is not locked is a fatal error, not a panic. The
// runtime prints "fatal error: sync: unlock of unlocked mutex" and exits with status 2 from
// inside Unlock, on the goroutine that called it: no deferred call runs, and the recover()
// deferred by main could not have stopped it anyway. Pending when the process dies: release's
// deferred call and main's two, and the deferred call of a goroutine parked in a channel
// receive.
package main

import (
	"fmt"
	"sync"
)

//go:noinline
func release(mu *sync.Mutex) {
	defer fmt.Println("release: deferred (never printed)")
	mu.Unlock()
}

func waiter(ready chan<- struct{}, never <-chan struct{}) {
	defer fmt.Println("waiter: deferred (never printed)")
	ready <- struct{}{}
	<-never
}

func main() {
	defer fmt.Println("main: deferred (never printed)")
	defer func() {
		fmt.Println("main: recovered (never printed)", recover())
	}()
	ready, never := make(chan struct{}), make(chan struct{})
	go waiter(ready, never)
	<-ready
	var mu sync.Mutex
	fmt.Println("main: unlocking a mutex nobody locked")
	release(&mu)
}
