// signals: for the signal tests.
//   signals           exits 0 at once
//   signals int       prints "ready PID", waits for SIGINT, prints "interrupted", exits 7
//   signals die       prints "ready PID", waits; SIGINT's default action kills it
//   signals sleep     prints "ready PID", sleeps 60 s
package main

import (
	"fmt"
	"os"
	"os/signal"
	"time"
)

func main() {
	defer fmt.Println("signals: done")
	if len(os.Args) < 2 {
		return
	}
	switch os.Args[1] {
	case "int":
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt)
		fmt.Println("ready", os.Getpid())
		<-ch
		fmt.Println("interrupted")
		os.Exit(7)
	case "die", "sleep":
		fmt.Println("ready", os.Getpid())
		time.Sleep(60 * time.Second)
	}
}
