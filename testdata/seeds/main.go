// seeds: the shapes the project's source articles discuss, rewritten.
//   - a deferred call with arguments (evaluated when the defer runs its statement)
//   - deferred calls run last-in first-out, and may change named results
//   - Go issue 43921's shape: a panic recovered inside a deferred call of a panicking function
//     must not be taken for the outer panic's recovery
//   - a recover() reached through an extra call level returns nil
package main

import "fmt"

func sum(a, b int) int {
	s := a + b
	fmt.Println("sum", a, b, "=", s)
	return s
}

//go:noinline
func withArgs() {
	defer sum(1, 2)
	fmt.Println("withArgs body")
}

//go:noinline
func lifo() (out string) {
	for _, s := range []string{"a", "b", "c"} {
		s := s
		defer func() { out += s }()
	}
	return ">"
}

//go:noinline
func issue43921() {
	defer func() {
		fmt.Println("outer recover:", recover())
	}()
	defer func() {
		defer func() {
			fmt.Println("inner recover:", recover())
		}()
		panic("second")
	}()
	panic("first")
}

func indirect() { fmt.Println("indirect recover:", recover()) }

//go:noinline
func extraLevel() {
	defer func() {
		fmt.Println("direct recover:", recover())
	}()
	defer func() {
		indirect()
	}()
	panic("needs a direct recover")
}

func main() {
	withArgs()
	fmt.Println("lifo:", lifo())
	issue43921()
	extraLevel()
}
