// spawn: the program starts child processes, as the go command does (os/exec: clone with
// CLONE_VFORK|CLONE_VM, then execve).
//   - parent (no argument): runs itself as "child", which runs itself as "grandchild"; then
//     /bin/true, which is not a Go program. It prints each child's exit status.
//   - child and grandchild: each prints its process id, recovers a panic in a deferred call and
//     ends with a status of its own (3 and 4), which its parent sees.
//   - then the parent forks without exec (a raw fork(2), as C code called through cgo may): the
//     copy runs a function with a defer statement, traced in the parent, and exits with what it
//     returned (7). A breakpoint left in the copy's code would kill it with SIGTRAP.
// Every line goes to stdout in a fixed order: each parent waits for its child. With
// SPAWN_SHOW_PIDS=1 (inherited by the children) each process also prints its pid.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func run(name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		fmt.Println("ran", len(args), "arguments: status 0")
	case errors.As(err, &exit):
		fmt.Println("ran", len(args), "arguments: status", exit.ExitCode())
	default:
		fmt.Println("could not run:", err)
	}
}

//go:noinline
func recovered(who string) {
	defer func() {
		fmt.Println(who, "recovered:", recover())
	}()
	panic(who + " panics")
}

//go:noinline
func inCopy() (n int) {
	defer func() { n += 4 }()
	return 3
}

// forkCopy forks the process without exec; the copy, one thread of a copy of the runtime, only
// calls inCopy and exits.
func forkCopy() {
	syscall.ForkLock.Lock()
	pid, _, errno := syscall.RawSyscall(syscall.SYS_FORK, 0, 0, 0)
	if errno == 0 && pid == 0 {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, uintptr(inCopy()), 0, 0)
	}
	syscall.ForkLock.Unlock()
	if errno != 0 {
		fmt.Println("fork failed:", errno)
		return
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(int(pid), &ws, 0, nil); err != nil {
		fmt.Println("wait failed:", err)
		return
	}
	fmt.Println("fork copy: exited", ws.Exited(), "status", ws.ExitStatus(), "signal", int(ws.Signal()))
}

func self() string {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return exe
}

func main() {
	role := "parent"
	if len(os.Args) > 1 {
		role = os.Args[1]
	}
	if os.Getenv("SPAWN_SHOW_PIDS") == "1" {
		fmt.Println(role, "pid", os.Getpid())
	} else {
		fmt.Println(role)
	}
	switch role {
	case "child":
		recovered(role)
		run(self(), "grandchild")
		os.Exit(3)
	case "grandchild":
		recovered(role)
		os.Exit(4)
	}
	defer fmt.Println("parent: deferred")
	run(self(), "child")
	run("/bin/true")
	forkCopy()
}
