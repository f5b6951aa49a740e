// exec_self: syscall.Exec replaces the traced program, twice.
//   - first image (no DEFTRACE_EXEC_STAGE): deferred calls are pending on main and on a parked
//     goroutine. An exec of a path that does not exist fails (syscall.Exec returns ENOENT) and
//     the program goes on with them still pending. Then it execs itself (/proc/self/exe) with
//     DEFTRACE_EXEC_STAGE=second: execve replaces the process image without unwinding any
//     stack, so none of those deferred calls ever runs.
//   - second image: a Go program again, traced from its first instruction: a panic recovered by
//     a deferred call, then, with a deferred call of main pending, an exec of /bin/false.
//   - /bin/false is not a Go program: it runs untraced and exits with status 1.
package main

import (
	"fmt"
	"os"
	"syscall"
)

const stage = "DEFTRACE_EXEC_STAGE"

func parked(ready chan<- struct{}, never <-chan struct{}) {
	defer fmt.Println("parked: deferred (never printed)")
	ready <- struct{}{}
	<-never
}

//go:noinline
func first() {
	defer fmt.Println("first: deferred (never printed)")
	ready, never := make(chan struct{}), make(chan struct{})
	go parked(ready, never)
	<-ready
	err := syscall.Exec("/nonexistent/deftrace-exec-self", os.Args, os.Environ())
	fmt.Println("first: exec of a missing file failed:", err)
	err = syscall.Exec("/proc/self/exe", os.Args, append(os.Environ(), stage+"=second"))
	fmt.Println("first: exec failed (not printed):", err)
}

//go:noinline
func recovered() {
	defer func() {
		fmt.Println("second: recovered", recover())
	}()
	panic("in the exec'd image")
}

//go:noinline
func second() {
	defer fmt.Println("second: deferred (never printed)")
	recovered()
	err := syscall.Exec("/bin/false", []string{"false"}, os.Environ())
	fmt.Println("second: exec failed (not printed):", err)
}

func main() {
	defer fmt.Println("main: deferred (never printed)")
	if os.Getenv(stage) == "second" {
		fmt.Println("second: running after exec")
		second()
		return
	}
	fmt.Println("first: running")
	first()
}
