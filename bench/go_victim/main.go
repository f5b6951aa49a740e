// go_victim: the native victim's "calls" and "traps" modes in a Go process (its runtime's
// threads, signals and memory), for bench/ptrace_cost.cpp.
//
//	go_victim calls N   call target() N times
//	go_victim traps N   execute int3 N times (under a tracer: a bare ptrace stop each)
package main

import (
	"fmt"
	"os"
	"strconv"
)

// In trap_amd64.s: target is an empty function deftrace puts its breakpoint on; trap executes
// int3 and returns.
func target()
func trap()

func main() {
	if len(os.Args) < 3 {
		os.Exit(64)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil {
		os.Exit(64)
	}
	f := target
	if os.Args[1] == "traps" {
		f = trap
	}
	for i := 0; i < n; i++ {
		f()
	}
	fmt.Println("done", n)
}
