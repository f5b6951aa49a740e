// scoped: defers in package main and in a package of the same module (lib), for --scope.
// Usage: scoped [N] (rounds of lib's defers; default 3).
package main

import (
	"fmt"
	"os"
	"strconv"

	"scoped/lib"
)

//go:noinline
func report() {
	defer fmt.Println("checksum", lib.Total)
}

func main() {
	n := 3
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil {
			n = v
		}
	}
	lib.Work(n)
	report()
}
