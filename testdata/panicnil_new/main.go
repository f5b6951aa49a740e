//go:debug panicnil=0

// panicnil_new: panic(nil) with the Go 1.21 semantics asked for explicitly. The module says
// go 1.19, which on its own keeps the old behaviour on every toolchain (GODEBUG panicnil=1:
// recover() returns nil, as testdata/panicnil shows); the //go:debug line above switches
// toolchains from Go 1.21 on to the new behaviour, where panic(nil) panics with a
// *runtime.PanicNilError. Go 1.19 does not know the directive and keeps the old behaviour, so
// this is the one program whose stdout differs by release:
//
//	Go 1.19:      recovered <nil> (panic value is nil: true)
//	Go 1.21-1.26: recovered *runtime.PanicNilError (panic value is nil: false)
//	              message: panic called with nil argument
//	Go 1.27:      the same, but the message is
//	              "runtime error: panic called with nil argument"
package main

import "fmt"

//go:noinline
func raiseNil() {
	defer fmt.Println("raiseNil: deferred print runs")
	panic(nil)
}

func main() {
	defer func() {
		r := recover()
		fmt.Printf("recovered %T (panic value is nil: %v)\n", r, r == nil)
		if err, ok := r.(error); ok {
			fmt.Println("message:", err.Error())
		}
	}()
	raiseNil()
}
