// A tiny Go program with open-coded defers, a panic and a recover: built by scripts/fuzz.sh
// (with -ldflags="-s -w", under 1 MB) as the real-binary seed of the fuzz targets.
package main

func f(n int) (r int) {
	defer func() {
		if e := recover(); e != nil {
			r = -1
		}
	}()
	defer println("leaving", n)
	if n > 2 {
		panic("too big")
	}
	return n * 2
}

func main() {
	for i := 0; i < 4; i++ {
		println(f(i))
	}
}
