// signals: for the signal tests.
//
//	signals           exits 0 at once
//	signals int       prints "ready PID", waits for SIGINT, prints "interrupted", exits 7
//	signals die       prints "ready PID", waits; SIGINT's default action kills it
//	signals sleep     prints "ready PID", sleeps 60 s
//	signals many      prints "ready PID", then a line for each of SIGUSR2, SIGALRM, SIGPIPE,
//	                  SIGVTALRM and SIGRTMIN+3 it receives; exits 5 on SIGTERM
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
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
	case "many":
		ch := make(chan os.Signal, 8)
		signal.Notify(ch, syscall.SIGUSR2, syscall.SIGALRM, syscall.SIGPIPE, syscall.SIGVTALRM,
			syscall.Signal(37), syscall.SIGTERM)
		fmt.Println("ready", os.Getpid())
		for sig := range ch {
			if sig == syscall.SIGTERM {
				fmt.Println("terminated")
				os.Exit(5)
			}
			fmt.Println("got", int(sig.(syscall.Signal)))
		}
	case "die", "sleep":
		fmt.Println("ready", os.Getpid())
		time.Sleep(60 * time.Second)
	}
}
