// hostile_values: values a program may panic with that are not clean text, and a program that
// looks at its own file descriptors. For the tests of what deftrace writes (text and JSON) and
// of what the traced program inherits from it.
//
//	hostile_values       recovers six panics whose values are invalid UTF-8 or hold
//	                     characters a terminal acts on, then exits with status 3
//	hostile_values fds   prints the file descriptors it has open (they must be the same traced
//	                     and untraced) and exits 0
package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
)

//go:noinline
func raise(v any) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Printf("recovered %q\n", fmt.Sprint(r))
		}
	}()
	panic(v)
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "fds" {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		var fds []string
		for _, e := range entries {
			target, _ := os.Readlink("/proc/self/fd/" + e.Name())
			fds = append(fds, e.Name()+" "+target)
		}
		sort.Strings(fds)
		for _, fd := range fds {
			fmt.Println(fd)
		}
		return
	}
	raise("bad\xff")                          // not UTF-8
	raise(errors.New("error \xfe\xfe text"))  // an error whose text is not UTF-8
	raise("esc\x1b[2Jcleared")                // ESC: would clear the screen
	raise("csi\u009b31mred")                  // U+009B: the C1 control sequence introducer
	raise("\u202eevil\u202c right-to-left")   // a bidi override
	raise("line\u2028separator and\nnewline") // a line separator and a newline
	defer fmt.Println("hostile_values: deferred")
	os.Exit(3)
}

// hostile_values markup VALUE: recovers a panic whose value is VALUE (markup, for the HTML
// report's browser test) and exits 0. Here, in an init function at the end of the file, so that
// the lines of what the other modes run stay where their expected traces say.
func init() {
	if len(os.Args) > 2 && os.Args[1] == "markup" {
		raise(os.Args[2])
		os.Exit(0)
	}
}
