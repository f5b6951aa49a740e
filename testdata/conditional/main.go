// conditional: defers under if statements (deferBits records which ran), several return
// paths, and a function whose returns × defers exceed 15, which turns open-coding off.
package main

import "fmt"

//go:noinline
func cond(a, b bool) {
	if a {
		defer fmt.Println("cond: a")
	}
	defer fmt.Println("cond: always")
	if b {
		defer fmt.Println("cond: b")
	}
}

//go:noinline
func early(n int) int {
	defer fmt.Println("early: first")
	if n < 0 {
		return -1
	}
	defer fmt.Println("early: second")
	if n == 0 {
		return 0
	}
	defer fmt.Println("early: third")
	return n * 2
}

// Four defers and four returns: 16 > 15 exit sequences, so the compiler falls back to
// stack-allocated records.
//
//go:noinline
func tooManyExits(n int) int {
	defer fmt.Println("many: 1")
	defer fmt.Println("many: 2")
	defer fmt.Println("many: 3")
	defer fmt.Println("many: 4")
	switch n {
	case 0:
		return 10
	case 1:
		return 11
	case 2:
		return 12
	}
	return 13
}

func main() {
	cond(true, false)
	cond(false, true)
	fmt.Println(early(-1), early(0), early(5))
	fmt.Println(tooManyExits(1), tooManyExits(7))
}
