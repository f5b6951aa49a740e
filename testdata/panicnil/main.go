// panicnil: panic(nil), recovered. The module's go 1.19 line means GODEBUG panicnil=1 on every
// toolchain, so recover() returns nil on all releases (panicnil_new shows the 1.21+ behaviour).
package main

import "fmt"

func main() {
	defer func() {
		r := recover()
		fmt.Printf("recovered %T\n", r)
	}()
	panic(nil)
}
