// seed_deadlock: article 000's second and third puzzles, rewritten. The child goroutine
// recovers its own panic, so nothing crashes; then main sits in an empty select{} with no other
// goroutine left and the runtime stops the program with
// "fatal error: all goroutines are asleep - deadlock!" (exit status 2). The recovers deferred
// by main and by spawn never fire.
package main

import "fmt"

func sum(a, b int) int {
	s := a + b
	fmt.Println("child: deferred sum(1, 2) =", s)
	return s
}

//go:noinline
func spawn(start chan struct{}) {
	defer func() {
		if err := recover(); err != nil {
			fmt.Println("spawn recovered:", err) // never printed
		}
	}()
	go func() {
		defer sum(1, 2)
		defer func() {
			if err := recover(); err != nil {
				fmt.Println("child recovered:", err)
			}
		}()
		<-start
		panic(1)
	}()
	fmt.Println("spawn: goroutine started, returning")
}

func main() {
	defer func() {
		if err := recover(); err != nil {
			fmt.Println("main recovered:", err) // never printed
		}
	}()
	start := make(chan struct{})
	spawn(start)
	fmt.Println("main: releasing the child and blocking in select{}")
	close(start)
	select {}
}
