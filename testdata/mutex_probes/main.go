// mutex_probes: sync.Mutex and sync.RWMutex locks taken and released properly, left held by a
// recovered panic, and still held at exit; locked through sync.Locker (the out-of-line method)
// and unlocked by another goroutine. The expected report (tests/integration/leaks_test.cpp):
// 2 abandoned, by the panics of withdraw and lookup, and 1 held at exit, by freeze.
package main

import (
	"fmt"
	"sync"
)

type account struct {
	mu      sync.Mutex
	balance int
}

type cache struct {
	mu sync.RWMutex
	m  map[string]string
}

// guard recovers a panic of f, as net/http does for a handler.
func guard(name string, f func()) {
	defer func() {
		if v := recover(); v != nil {
			fmt.Printf("%s: recovered: %v\n", name, v)
		}
	}()
	f()
}

// deposit unlocks on every path, the panicking one included.
func deposit(a *account, n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n < 0 {
		panic(fmt.Sprintf("deposit: negative amount %d", n))
	}
	a.balance += n
}

// withdraw panics while holding the lock: every later Lock of a.mu blocks forever.
func withdraw(a *account, n int) {
	a.mu.Lock()
	if a.balance < n {
		panic(fmt.Sprintf("withdraw: balance %d < %d", a.balance, n))
	}
	a.balance -= n
	a.mu.Unlock()
}

// get takes the read lock and releases it.
func get(c *cache, k string) string {
	c.mu.RLock()
	v := c.m[k]
	c.mu.RUnlock()
	return v
}

// lookup panics while holding the read lock: writers block forever.
func lookup(c *cache, k string) string {
	c.mu.RLock()
	v, ok := c.m[k]
	if !ok {
		panic("lookup: no key " + k)
	}
	c.mu.RUnlock()
	return v
}

// put takes the write lock and releases it.
func put(c *cache, k, v string) {
	c.mu.Lock()
	c.m[k] = v
	c.mu.Unlock()
}

// freeze takes the write lock and keeps it.
func freeze(c *cache) {
	c.mu.Lock()
}

// viaLocker locks and unlocks through the interface: the out-of-line methods.
func viaLocker(l sync.Locker) {
	l.Lock()
	l.Unlock()
}

// handOff locks on this goroutine and unlocks on another, which sync.Mutex allows.
func handOff(a *account) {
	a.mu.Lock()
	done := make(chan struct{})
	go func() {
		a.mu.Unlock()
		close(done)
	}()
	<-done
}

func main() {
	savings := &account{balance: 10}
	checking := &account{balance: 5}
	c := &cache{m: map[string]string{"a": "1"}}
	other := &cache{m: map[string]string{}}

	deposit(savings, 5)
	guard("deposit", func() { deposit(savings, -1) })
	guard("withdraw", func() { withdraw(checking, 50) })
	put(c, "b", "2")
	fmt.Println("get a =", get(c, "a"), "b =", get(c, "b"))
	guard("lookup", func() { lookup(c, "z") })
	viaLocker(&savings.mu)
	viaLocker(other.mu.RLocker())
	handOff(savings)
	freeze(other)
	fmt.Println("savings", savings.balance, "checking", checking.balance)
}
