// defer_heavy: a workload for measurements: N rounds of open-coded, stack and heap defers and
// some recovered panics. Usage: defer_heavy [N] (default 20; the benchmarks pass more).
package main

import (
	"fmt"
	"os"
	"strconv"
)

var total int

//go:noinline
func open(i int) {
	defer func() { total += i }()
	defer func() { total ^= 1 }()
}

//go:noinline
func stacked(i int) int {
	defer func() { total++ }()
	defer func() { total++ }()
	defer func() { total++ }()
	defer func() { total++ }()
	switch i % 4 {
	case 0:
		return 1
	case 1:
		return 2
	case 2:
		return 3
	}
	return 4
}

//go:noinline
func heap(i int) {
	for j := 0; j < 2; j++ {
		defer func() { total += j }()
	}
}

//go:noinline
func recovered(i int) {
	defer func() {
		if recover() != nil {
			total += 3
		}
	}()
	if i%10 == 0 {
		panic(i)
	}
}

func main() {
	n := 20
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil {
			n = v
		}
	}
	for i := 0; i < n; i++ {
		open(i)
		total += stacked(i)
		heap(i)
		recovered(i)
	}
	fmt.Println("checksum", total)
}
