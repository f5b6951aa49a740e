// basic: the three defer kinds side by side.
//   one()    a single open-coded defer
//   eight()  eight defers: the most one frame can open-code (one deferBits byte)
//   nine()   nine defers: too many to open-code, so every one is stack-allocated
//   calls()  deferred methods, method values, interface methods, arguments evaluated at the
//            defer statement, and the common "builtin-like" cleanups
package main

import (
	"fmt"
	"sync"
)

type counter struct{ n int }

func (c counter) show(tag string) { fmt.Println(tag, c.n) }
func (c *counter) bump()          { c.n++ }

type closer interface{ Close() }

type res struct{ name string }

func (r *res) Close() { fmt.Println("close", r.name) }

//go:noinline
func one() {
	defer fmt.Println("one: deferred")
	fmt.Println("one: body")
}

//go:noinline
func eight() {
	defer fmt.Println("eight: 1")
	defer fmt.Println("eight: 2")
	defer fmt.Println("eight: 3")
	defer fmt.Println("eight: 4")
	defer fmt.Println("eight: 5")
	defer fmt.Println("eight: 6")
	defer fmt.Println("eight: 7")
	defer fmt.Println("eight: 8")
}

//go:noinline
func nine() {
	defer fmt.Println("nine: 1")
	defer fmt.Println("nine: 2")
	defer fmt.Println("nine: 3")
	defer fmt.Println("nine: 4")
	defer fmt.Println("nine: 5")
	defer fmt.Println("nine: 6")
	defer fmt.Println("nine: 7")
	defer fmt.Println("nine: 8")
	defer fmt.Println("nine: 9")
}

//go:noinline
func calls() {
	var mu sync.Mutex
	var wg sync.WaitGroup
	ch := make(chan int, 1)
	c := counter{n: 1}
	var r closer = &res{name: "file"}
	wg.Add(1)
	mu.Lock()
	defer mu.Unlock()
	defer wg.Done()
	defer close(ch)
	defer c.show("value receiver saw") // c copied now: prints 1
	defer (&c).bump()
	show := c.show
	defer show("method value saw")
	defer r.Close()
	x := 10
	defer fmt.Println("argument evaluated at defer:", x)
	x = 20
	defer func() {
		fmt.Println("closure sees", x)
	}()
}

func main() {
	one()
	eight()
	nine()
	calls()
}
