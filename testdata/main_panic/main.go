// main_panic: an unrecovered panic in main; the deferred calls on the way up run, then the
// program dies with status 2.
package main

import "fmt"

//go:noinline
func level2() {
	defer fmt.Println("level2: deferred")
	panic(fmt.Errorf("fatal: %d", 7))
}

//go:noinline
func level1() {
	defer fmt.Println("level1: deferred")
	level2()
}

func main() {
	defer fmt.Println("main: deferred")
	level1()
}
