// fatal_print_panics: the value of an unrecovered panic has a String method that panics itself.
// runtime.preprintpanics calls it before printing, its deferred function catches the second
// panic and the runtime throws "panic while printing panic value": preprintpanics never
// returns, and the fatal event (with the program's own values, no `printed` text) is reported
// when the program has ended. The deferred call of main runs first, as in any panic.
// Exit status 2.
package main

type badStringer int

func (b badStringer) String() string { panic("no text for this value") }

func cleanup() { println("main: deferred call before the crash report") }

func main() {
	defer cleanup()
	panic(badStringer(7))
}
