// txleak_fake: testdata/txleak_pg's leaked transaction without PostgreSQL and without the
// network: the same handlers on database/sql with an in-process driver (fakedb.go), driven by
// the program itself. Deterministic; runs in milliseconds.
//
//   /transfer?id=N        db.Begin, two writes, Commit; for odd N the work panics two frames
//                         down (transfer -> applyTransfer -> checkLimit) before Commit, and
//                         the transaction stays open forever: leaked.
//   /fixed-transfer?id=N  the same with `defer tx.Rollback()`: no leak.
//   /ctx-transfer?id=N    begun with the request's context and no defer: the panic skips the
//                         cleanup, but cancelling the context makes database/sql roll the
//                         transaction back from another goroutine (Tx.awaitDone): no leak.
//
// Requests: /transfer 1..6, /fixed-transfer 11..13, /ctx-transfer 21..23, one at a time.
// Expected: 3 transactions (those of /transfer 1, 3, 5: ids 1, 3 and 5 of the driver) still
// open at exit, and the 3 connections they pin still open; exit status 0. The pool keeps no
// idle connection (SetMaxIdleConns(0)), so every connection database/sql gives back is closed
// in the driver, and the driver's own count of open connections is exact once a request has
// settled: database/sql's statistics are updated after the driver's Close, from whichever
// goroutine released the connection, and polling them would take locks with defers.
//
// Modes:
//   (default)  a real net/http server over an in-memory listener (net.Pipe connections, one
//              per request), so the panic is swallowed by net/http's own per-connection
//              recover (conn.serve), which also cancels the request context.
//   -direct    no net/http server: serveDirect calls the handler with a recover that mimics
//              net/http's, and cancels the request context when the handler is done.
package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

const amount = 10

var db *sql.DB

// checkLimit panics for odd accounts: the bug that skips the cleanup.
//
//go:noinline
func checkLimit(id int) {
	if id%2 == 1 {
		panic(fmt.Sprintf("transfer %d: over the daily limit", id))
	}
}

//go:noinline
func applyTransfer(ctx context.Context, tx *sql.Tx, id int) error {
	if _, err := tx.ExecContext(ctx, debit, id, amount); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, addLedger, id, -amount); err != nil {
		return err
	}
	checkLimit(id)
	return nil
}

// transfer leaks its transaction when applyTransfer panics.
//
//go:noinline
func transfer(id int) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	if err := applyTransfer(context.Background(), tx, id); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

//go:noinline
func fixedTransfer(id int) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := applyTransfer(context.Background(), tx, id); err != nil {
		return err
	}
	return tx.Commit()
}

//go:noinline
func ctxTransfer(ctx context.Context, id int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := applyTransfer(ctx, tx, id); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func handle(name string, run func(r *http.Request, id int) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.URL.Query().Get("id"))
		if err != nil || id < 1 {
			http.Error(w, "bad id", http.StatusBadRequest)
			return
		}
		if err := run(r, id); err != nil {
			http.Error(w, fmt.Sprintf("%s %d: %v", name, id, err), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s %d: committed\n", name, id)
	}
}

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/transfer", handle("transfer", func(r *http.Request, id int) error { return transfer(id) }))
	mux.Handle("/fixed-transfer", handle("fixed-transfer", func(r *http.Request, id int) error { return fixedTransfer(id) }))
	mux.Handle("/ctx-transfer", handle("ctx-transfer", func(r *http.Request, id int) error { return ctxTransfer(r.Context(), id) }))
	return mux
}

// pipeListener hands the server ends of net.Pipe connections to http.Server.Serve.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial() (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// getOverPipe sends one GET over a fresh pipe connection and returns the status line and
// body, or "" when the server dropped the connection without answering (a panicking handler).
func getOverPipe(l *pipeListener, path string) string {
	c, err := l.dial()
	if err != nil {
		return ""
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: fake\r\nConnection: close\r\n\r\n", path)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
}

// serveDirect calls h the way net/http's conn.serve does: a recover that logs and drops the
// "connection", and a request context cancelled once the handler is done.
func serveDirect(h http.Handler, path string) (answer string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := httptest.NewRecorder()
	defer func() {
		if v := recover(); v != nil {
			fmt.Fprintf(os.Stderr, "serveDirect: panic serving %s: %v\n", path, v)
			answer = ""
		}
	}()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil).WithContext(ctx))
	return fmt.Sprintf("%d %s", rec.Code, strings.TrimSpace(rec.Body.String()))
}

// waitSettled waits (at most 5 s) until exactly txs transactions and conns connections are
// open: a context-cancelled transaction is rolled back, and its connection closed, by another
// goroutine (database/sql's Tx.awaitDone), shortly after the request ends.
func waitSettled(txs, conns int) {
	for i := 0; i < 5000; i++ {
		if t, c := countOpen(); t == txs && c == conns {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func main() {
	direct := flag.Bool("direct", false, "call the handlers directly, without a net/http server")
	flag.Parse()
	log.SetFlags(0)

	var err error
	db, err = sql.Open("fakedb", "")
	if err != nil {
		log.Fatal(err)
	}
	db.SetMaxOpenConns(50) // leaked transactions pin their connections
	db.SetMaxIdleConns(0)  // a released connection is closed at once (see the top)

	mux := newMux()
	get := func(path string) string { return serveDirect(mux, path) }
	var srv *http.Server
	served := make(chan error, 1)
	if !*direct {
		l := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
		// No timestamps: net/http's panic reports are the same on every run.
		srv = &http.Server{Handler: mux, ErrorLog: log.New(os.Stderr, "", 0)}
		go func() { served <- srv.Serve(l) }()
		get = func(path string) string { return getOverPipe(l, path) }
	}

	var paths []string
	for id := 1; id <= 6; id++ {
		paths = append(paths, fmt.Sprintf("/transfer?id=%d", id))
	}
	for id := 11; id <= 13; id++ {
		paths = append(paths, fmt.Sprintf("/fixed-transfer?id=%d", id))
	}
	for id := 21; id <= 23; id++ {
		paths = append(paths, fmt.Sprintf("/ctx-transfer?id=%d", id))
	}
	for _, p := range paths {
		txs, conns := countOpen()
		answer := get(p)
		if strings.HasPrefix(p, "/ctx-transfer") {
			waitSettled(txs, conns)
		}
		if answer == "" {
			answer = "no response (the handler panicked)"
		}
		fmt.Printf("%-22s %s\n", p, answer)
	}

	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "shutdown: %v\n", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "serve: %v\n", err)
		}
		waitConnsDone()
	}
	commits, rollbacks, ledger := counters()
	fmt.Printf("committed %d, rolled back %d, ledger rows %d\n", commits, rollbacks, ledger)
	fmt.Printf("open transactions at exit: %d %v\n", len(openTxs()), openTxs())
	_, conns := countOpen()
	fmt.Printf("connections open at exit: %d\n", conns)
	db.Close()
}

// waitConnsDone waits until every connection goroutine has returned. Shutdown returns once the
// connections are closed, which a panicking handler's connection does in the deferred function
// that recovers the panic, before that goroutine has resumed and returned: without the wait, the
// program could exit while the runtime is still unwinding it.
func waitConnsDone() {
	buf := make([]byte, 1<<20)
	for i := 0; i < 5000; i++ {
		if !bytes.Contains(buf[:runtime.Stack(buf, true)], []byte("net/http.(*conn).serve")) {
			return
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, "connection goroutines still running after 5s")
}
