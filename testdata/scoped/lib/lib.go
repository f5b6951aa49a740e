// Package lib does its work with defers of every kind, and recovers one panic of its own: the
// program's story under `--scope '^main\.'` must show none of the defers, cost none of their
// stops, and still show the panic and the recover that stops it.
package lib

var Total int

//go:noinline
func openCoded(i int) {
	defer func() { Total += i }()
}

//go:noinline
func linked(i int) {
	for j := 0; j < 2; j++ {
		defer func() { Total += j }()
	}
}

// A recover() that finds no panic, every round: part of the story in scope, no stop out of it.
//
//go:noinline
func careful(i int) {
	defer func() {
		if r := recover(); r != nil {
			Total--
		}
	}()
	Total += i
}

//go:noinline
func guarded() (err error) {
	defer func() {
		if r := recover(); r != nil {
			Total++
		}
	}()
	panic("lib: bad input")
}

// Work runs n rounds of defers, then one recovered panic.
func Work(n int) {
	for i := 0; i < n; i++ {
		openCoded(i)
		linked(i)
		careful(i)
	}
	_ = guarded()
}
