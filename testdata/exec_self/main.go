// exec_self: syscall.Exec replaces the traced program, twice.
// The main goroutine is locked to the process's first thread (LockOSThread in init).
//   - first image (no DEFTRACE_EXEC_STAGE): deferred calls are pending on main and on a parked
//     goroutine. An exec of a path that does not exist fails (syscall.Exec returns ENOENT) and
//     the program goes on with them still pending. Then another goroutine, so another thread,
//     execs the program itself (/proc/self/exe) with DEFTRACE_EXEC_STAGE=second: execve
//     replaces the process image without unwinding any stack, so none of the deferred calls
//     pending on the three goroutines ever runs (and the exec'ing thread takes over the
//     process's id).
//   - second image: a Go program again, traced from its first instruction: a panic recovered by
//     a deferred call, then, with deferred calls of main pending, main itself (the first
//     thread) execs /bin/false.
//   - /bin/false is not a Go program: it runs untraced and exits with status 1.
package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
)

const stage = "DEFTRACE_EXEC_STAGE"

func init() {
	runtime.LockOSThread() // main.main then runs on this, the first, thread
}

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
	failed := make(chan error)
	go execSelf(failed)
	fmt.Println("first: exec failed (not printed):", <-failed)
}

func execSelf(failed chan<- error) {
	defer fmt.Println("execSelf: deferred (never printed)")
	failed <- syscall.Exec("/proc/self/exe", os.Args, append(os.Environ(), stage+"=second"))
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
