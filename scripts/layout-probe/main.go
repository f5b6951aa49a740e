// A program that keeps the runtime's defer/panic machinery linked, so its DWARF describes
// every structure deftrace reads (scripts/gen-layouts.sh).
package main

import (
	"fmt"
	"os"
)

func main() {
	defer func() { fmt.Println(recover()) }()
	done := make(chan bool)
	go func() {
		defer close(done)
	}()
	<-done
	s := []int{}
	_ = s[len(os.Args)]
}
