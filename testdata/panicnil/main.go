// panicnil: panic(nil). Before Go 1.21 recover() returns nil for it; from 1.21 it returns a
// *runtime.PanicNilError.
package main

import "fmt"

func main() {
	defer func() {
		r := recover()
		fmt.Printf("recovered %T\n", r)
	}()
	panic(nil)
}
