// fatal_values: an unrecovered panic whose value deftrace cannot render from memory alone: a
// struct error wrapping an *fs.PathError. Before dying the runtime calls its Error method
// (runtime.preprintpanics) and prints the result; the fatal event carries that text as
// `printed`. A deferred call that runs during the panic has a Stringer on the way.
// Exit status 2.
package main

import (
	"fmt"
	"os"
)

type configError struct {
	path string
	err  error
}

func (e *configError) Error() string { return "config " + e.path + ": " + e.err.Error() }

type phase int

func (p phase) String() string { return fmt.Sprintf("phase %d", int(p)) }

//go:noinline
func loadConfig(path string) {
	f, err := os.Open(path)
	if err != nil {
		panic(&configError{path: path, err: err})
	}
	f.Close()
}

func main() {
	defer fmt.Println("cleanup in", phase(2))
	loadConfig("/nonexistent/deftrace.conf")
}
