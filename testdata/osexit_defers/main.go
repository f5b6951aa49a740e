// osexit_defers: os.Exit while several goroutines have defers pending. os.Exit ends the
// process at once, without unwinding any stack, so none of them ever runs (nothing below
// prints "release ..."). Pending when the process exits:
//
//   main goroutine  main: 1 open-coded defer; shutdown: 2 open-coded defers (the frame that
//                   calls os.Exit)
//   worker          worker: 2 open-coded defers, parked in a channel receive
//   looper          looper: 3 heap-allocated defers (a defer inside a loop), parked in a
//                   channel send
//   stacker         stacker: 9 stack-allocated defers (too many to open-code), parked in a
//                   select
//   nested          outer: 1 open-coded defer -> inner: 2 heap-allocated defers (loop), parked
//                   in a channel receive: two frames with pending defers in one goroutine
//
// main starts the four goroutines, waits until each has registered its defers and is parked
// (it polls runtime.Stack), then exits.
//
//   (default)        shutdown calls os.Exit(3): exit status 3
//   -fatal           shutdown calls log.Fatal instead: the message on stderr, exit status 1
//   -from-goroutine  main parks in a channel receive with its own defers pending (main: 1
//                    open-coded, waitForever: 1 open-coded) and a fifth goroutine, exiter,
//                    calls shutdown -> os.Exit(3)
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

//go:noinline
func release(what string) { fmt.Println("release", what, "(never printed)") }

// worker: open-coded defers, parked in a channel receive.
//
//go:noinline
func worker(ready chan<- string, jobs <-chan int) {
	defer release("worker: job slot")
	defer fmt.Println("worker: deferred Println (never printed)")
	ready <- "worker"
	<-jobs
}

// looper: a defer in a loop is heap-allocated; parked in a channel send.
//
//go:noinline
func looper(ready chan<- string, results chan<- int) {
	for i := 0; i < 3; i++ {
		defer release(fmt.Sprintf("looper: item %d", i))
	}
	ready <- "looper"
	results <- 1
}

// stacker: nine defers, more than one frame can open-code: each is stack-allocated.
//
//go:noinline
func stacker(ready chan<- string, a, b <-chan int) {
	defer release("stacker: 1")
	defer release("stacker: 2")
	defer release("stacker: 3")
	defer release("stacker: 4")
	defer release("stacker: 5")
	defer release("stacker: 6")
	defer release("stacker: 7")
	defer release("stacker: 8")
	defer release("stacker: 9")
	ready <- "stacker"
	select {
	case <-a:
	case <-b:
	}
}

//go:noinline
func inner(ready chan<- string, wake <-chan int) {
	for _, name := range []string{"inner: file", "inner: socket"} {
		defer release(name)
	}
	ready <- "nested"
	<-wake
}

// outer -> inner: pending defers in two frames of one goroutine.
//
//go:noinline
func outer(ready chan<- string, wake <-chan int) {
	defer release("outer: lock")
	inner(ready, wake)
}

// shutdown ends the process from inside a frame with defers of its own.
//
//go:noinline
func shutdown(fatal bool) {
	defer release("shutdown: temp dir")
	defer fmt.Println("shutdown: deferred Println (never printed)")
	fmt.Println("shutdown: exiting")
	if fatal {
		log.Fatal("shutdown: fatal error")
	}
	os.Exit(3)
}

// waitForever: main's own parked frame in -from-goroutine.
//
//go:noinline
func waitForever(never <-chan int) {
	defer release("waitForever: main's resource")
	<-never
}

// parked waits (at most 5 s) until n goroutines running functions of this program are parked
// in a channel operation or a select.
func parked(n int) {
	buf := make([]byte, 1<<16)
	for i := 0; i < 5000; i++ {
		count := 0
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			header := g
			if j := strings.IndexByte(g, '\n'); j >= 0 {
				header = g[:j]
			}
			if (strings.Contains(header, "[chan receive") || strings.Contains(header, "[chan send") ||
				strings.Contains(header, "[select")) && strings.Contains(g, "\nmain.") {
				count++
			}
		}
		if count >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func main() {
	fatal := flag.Bool("fatal", false, "exit through log.Fatal (status 1)")
	fromGoroutine := flag.Bool("from-goroutine", false, "call os.Exit from another goroutine while main is parked")
	flag.Parse()
	log.SetFlags(0)
	defer release("main: database")

	ready := make(chan string)
	never := make(chan int)
	go worker(ready, never)
	go looper(ready, make(chan int))
	go stacker(ready, never, never)
	go outer(ready, never)
	var names []string
	for i := 0; i < 4; i++ {
		names = append(names, <-ready)
	}
	sort.Strings(names) // they arrive in any order
	fmt.Println("ready:", strings.Join(names, " "))
	parked(4)
	if *fromGoroutine {
		go func() {
			parked(5) // the four, and main in waitForever
			shutdown(*fatal)
		}()
		waitForever(never)
	}
	shutdown(*fatal)
}
