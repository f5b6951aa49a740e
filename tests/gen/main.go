// Command gen writes random Go programs that defer, panic and recover, for differential testing
// of deftrace: the programs' own output is the expectation, and each program logs what it saw so
// a trace's counts can be checked against it.
//
//	gen -seed 7 -n 300 -o DIR
//
// writes DIR/go.mod, DIR/main.go (program K runs as `prog K`) and DIR/lines.txt (the line of every
// `defer recover()` statement: a recover there is the only one the program cannot log).
//
// Every program prints one line per event it can see, to stdout:
//
//	r ID   a defer statement of a main.* function is about to register it
//	d ID   a deferred main.* function started
//	p ID   a panic is about to start (explicit or a run-time error)
//	R ID   recover() returned a value (the panic stopped)
//	n ID   recover() returned nil
//	g ID   runtime.Goexit is about to be called
//	x ID   os.Exit is about to be called
//
// The programs use only Go 1.19 (the oldest release of the matrix): no generics, no range over
// integers or functions, no min/max.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
)

// writer emits Go source line by line and knows the line it is on, so the generator can record
// where it put a statement.
type writer struct {
	b      strings.Builder
	line   int
	indent int
}

func (w *writer) p(format string, args ...interface{}) {
	s := fmt.Sprintf(format, args...)
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimLeft(l, "\t")
		if strings.HasPrefix(l, "}") && w.indent > 0 {
			w.indent--
		}
		w.b.WriteString(strings.Repeat("\t", w.indent))
		w.b.WriteString(l)
		w.b.WriteString("\n")
		w.line++
		if strings.HasSuffix(l, "{") {
			w.indent++
		}
	}
}

type gen struct {
	r       *rand.Rand
	w       *writer
	ids     int
	squelch []int
	// program being written: its functions are named <prefix>f<j>; function j calls only
	// functions after it, so no program recurses.
	prefix string
	nfuncs int
	// budget keeps a program small: every statement spends one.
	budget int
}

func (g *gen) id() int { g.ids++; return g.ids }

func (g *gen) chance(percent int) bool { return g.r.Intn(100) < percent }

// panicStmt writes the statements that log and start a panic: an explicit panic of a value of
// some kind, or a run-time error.
func (g *gen) panicStmt() {
	id := g.id()
	g.w.p("ev(\"p\", %d)", id)
	switch g.r.Intn(12) {
	case 0:
		g.w.p("panic(\"s%d\")", id)
	case 1:
		g.w.p("panic(%d)", id)
	case 2:
		g.w.p("panic(errors.New(\"e%d\"))", id)
	case 3:
		g.w.p("panic(fmt.Errorf(\"wrapped %%w\", errors.New(\"e%d\")))", id)
	case 4:
		g.w.p("panic(val{%d, \"v\"})", id)
	case 5:
		g.w.p("panic(&val{%d, \"p\"})", id)
	case 6:
		g.w.p("panic(%d.5)", id)
	case 7: // index out of range
		g.w.p("idx[zero+%d] = 1", 3+id%5)
	case 8: // nil map write
		g.w.p("{\nvar m map[int]int\nm[%d] = 1\n}", id)
	case 9: // nil pointer dereference
		g.w.p("{\nvar v *val\nsink = v.n\n}")
	case 10: // integer divide by zero
		g.w.p("sink = %d / zero", id)
	default: // failed type assertion
		g.w.p("{\nvar i interface{} = %d\nsink = len(i.(string))\n}", id)
	}
}

// recoverStmt writes a direct recover() whose result is logged and, sometimes, re-panicked.
func (g *gen) recoverStmt(allowRepanic bool) {
	id := g.id()
	g.w.p("if r := recover(); r != nil {")
	g.w.p("ev(\"R\", %d)", id)
	if allowRepanic && g.chance(20) {
		rid := g.id()
		g.w.p("ev(\"p\", %d)", rid)
		if g.chance(50) {
			g.w.p("panic(r)")
		} else {
			g.w.p("panic(fmt.Sprint(\"re\", r))")
		}
	}
	g.w.p("} else {\nev(\"n\", %d)\n}", id)
}

// deferredBody writes the body of a deferred function: it logs that it ran, then maybe recovers
// (directly or through a helper, which never stops a panic), defers further, calls deeper
// functions or panics.
func (g *gen) deferredBody(id, depth, from int) {
	g.w.p("ev(\"d\", %d)", id)
	n := 1 + g.r.Intn(3)
	for i := 0; i < n && g.budget > 0; i++ {
		g.budget--
		switch k := g.r.Intn(10); {
		case k < 4:
			g.recoverStmt(true)
		case k < 5:
			g.w.p("indirectRecover(%d)", g.id())
		case k < 6 && depth < 3:
			g.deferStmt(depth+1, from)
		case k < 7:
			g.w.p("defer recover()")
			g.squelch = append(g.squelch, g.w.line)
		case k < 8 && from+1 < g.nfuncs:
			g.callStmt(from)
		case k < 9 && g.chance(40):
			g.panicStmt()
			return
		default:
			g.w.p("sink++")
		}
	}
}

// deferStmt writes one defer statement of some kind.
func (g *gen) deferStmt(depth, from int) {
	id := g.id()
	switch k := g.r.Intn(10); {
	case k < 5: // a closure
		g.w.p("ev(\"r\", %d)", id)
		g.w.p("defer func() {")
		g.deferredBody(id, depth, from)
		g.w.p("}()")
	case k < 6: // a function with an argument
		g.w.p("ev(\"r\", %d)", id)
		g.w.p("defer named(%d)", id)
	case k < 7: // a method value through a pointer receiver
		g.w.p("ev(\"r\", %d)", id)
		g.w.p("defer (&val{%d, \"m\"}).recoverPtr()", id)
	case k < 8: // a method with a value receiver, recovering itself
		g.w.p("ev(\"r\", %d)", id)
		g.w.p("defer val{%d, \"v\"}.recoverVal()", id)
	case k < 9: // a builtin
		g.w.p("defer recover()")
		g.squelch = append(g.squelch, g.w.line)
	default: // a library function
		g.w.p("mu.Lock()\ndefer mu.Unlock()")
	}
}

// callStmt calls a function of the program deeper than `from`, sometimes inside a closure that
// recovers, sometimes on a new goroutine that the caller waits for.
func (g *gen) callStmt(from int) {
	to := from + 1 + g.r.Intn(g.nfuncs-from-1)
	name := fmt.Sprintf("%sf%d", g.prefix, to)
	switch k := g.r.Intn(10); {
	case k < 6:
		g.w.p("%s()", name)
	case k < 8:
		id := g.id()
		g.w.p("func() {")
		g.w.p("ev(\"r\", %d)", id)
		g.w.p("defer func() {\nev(\"d\", %d)", id)
		g.recoverStmt(false)
		g.w.p("}()\n%s()\n}()", name)
	default:
		id := g.id()
		g.w.p("{\nvar wg sync.WaitGroup\nwg.Add(1)\ngo func() {")
		g.w.p("ev(\"r\", %d)", id)
		if g.chance(70) {
			// It always recovers, so wg.Done (deferred) never lets the caller go on while a
			// crash is under way.
			g.w.p("defer func() {\nev(\"d\", %d)", id)
			g.recoverStmt(false)
			g.w.p("wg.Done()\n}()\n%s()\n}()\nwg.Wait()\n}", name)
		} else {
			// The caller goes on only after a normal return (and the deferred call's output):
			// a panic it does not recover ends the program while the caller still waits, a
			// Goexit leaves the caller waiting for good (the runtime reports a deadlock).
			g.w.p("returned := false")
			g.w.p("defer func() {\nev(\"d\", %d)\nif returned {\nwg.Done()\n}\n}()", id)
			g.w.p("%s()\nreturned = true\n}()\nwg.Wait()\n}", name)
		}
	}
}

// function writes program function j.
func (g *gen) function(j int) {
	g.w.p("func %sf%d() {", g.prefix, j)
	n := 1 + g.r.Intn(5)
	for i := 0; i < n && g.budget > 0; i++ {
		g.budget--
		switch k := g.r.Intn(20); {
		case k < 7:
			g.deferStmt(0, j)
		case k < 9: // defers in a loop: never open-coded
			id := g.id()
			g.w.p("for i := 0; i < %d; i++ {", 1+g.r.Intn(3))
			g.w.p("ev(\"r\", %d)", id)
			g.w.p("defer named(%d)\n}", id)
		case k < 10: // a conditional defer
			id := g.id()
			g.w.p("if sink >= 0 {\nev(\"r\", %d)\ndefer named(%d)\n}", id, id)
		case k < 14 && j+1 < g.nfuncs:
			g.callStmt(j)
		case k < 15 && j > 0:
			g.w.p("ev(\"g\", %d)\nruntime.Goexit()", g.id())
			g.w.p("}")
			return
		case k < 16 && g.chance(10):
			g.w.p("ev(\"x\", %d)\nos.Exit(3)", g.id())
			g.w.p("}")
			return
		default:
			g.w.p("sink++")
		}
	}
	if g.chance(45) {
		g.panicStmt()
	}
	g.w.p("}")
}

func (g *gen) program(k int) {
	g.prefix = fmt.Sprintf("p%d", k)
	g.nfuncs = 1 + g.r.Intn(5)
	g.budget = 6 + g.r.Intn(14)
	for j := g.nfuncs - 1; j >= 0; j-- {
		g.function(j)
	}
}

const prelude = `// Code generated by tests/gen; DO NOT EDIT.

package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
)

var (
	sink int
	zero int
	idx  [3]int
	mu   sync.Mutex
)

type val struct {
	n int
	s string
}

func ev(kind string, id int) { fmt.Println(kind, id) }

//go:noinline
func named(id int) { ev("d", id) }

// indirectRecover is called by a deferred function: recover here never stops a panic.
func indirectRecover(id int) {
	if r := recover(); r != nil {
		ev("R", id)
	} else {
		ev("n", id)
	}
}

func (v *val) recoverPtr() {
	ev("d", v.n)
	if r := recover(); r != nil {
		ev("R", v.n)
	} else {
		ev("n", v.n)
	}
}

func (v val) recoverVal() {
	ev("d", v.n)
	if r := recover(); r != nil {
		ev("R", v.n)
	} else {
		ev("n", v.n)
	}
}
`

func main() {
	seed := flag.Int64("seed", 1, "random seed")
	n := flag.Int("n", 100, "number of programs")
	out := flag.String("o", "", "output directory")
	flag.Parse()
	if *out == "" || *n <= 0 {
		fmt.Fprintln(os.Stderr, "usage: gen -seed S -n N -o DIR")
		os.Exit(2)
	}
	g := &gen{r: rand.New(rand.NewSource(*seed)), w: &writer{}}
	g.w.p("%s", strings.TrimSuffix(prelude, "\n"))
	nfuncs := make([]int, *n)
	for k := 0; k < *n; k++ {
		g.w.p("")
		g.program(k)
		nfuncs[k] = g.nfuncs
	}
	// Program k runs programs[k][0]; the table lists all its functions so that the linker keeps
	// those no other function calls (the compiler's -d=defer report lists their defers too).
	g.w.p("\nvar programs = [][]func(){")
	for k := 0; k < *n; k++ {
		fs := make([]string, nfuncs[k])
		for j := range fs {
			fs[j] = fmt.Sprintf("p%df%d", k, j)
		}
		g.w.p("{%s},", strings.Join(fs, ", "))
	}
	g.w.p("}\n")
	g.w.p(`func main() {
k, err := strconv.Atoi(os.Args[1])
if err != nil || k < 0 || k >= len(programs) {
fmt.Fprintln(os.Stderr, "usage: prog K (0 <= K < ", len(programs), ")")
os.Exit(64)
}
programs[k][0]()
}`)
	must(os.MkdirAll(*out, 0o755))
	must(os.WriteFile(filepath.Join(*out, "go.mod"), []byte("module generated\n\ngo 1.15\n"), 0o644))
	must(os.WriteFile(filepath.Join(*out, "main.go"), []byte(g.w.b.String()), 0o644))
	f, err := os.Create(filepath.Join(*out, "lines.txt"))
	must(err)
	bw := bufio.NewWriter(f)
	fmt.Fprintf(bw, "programs %d\n", *n)
	for _, l := range g.squelch {
		fmt.Fprintf(bw, "defer-recover %d\n", l)
	}
	must(bw.Flush())
	must(f.Close())
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
