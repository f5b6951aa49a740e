// txleak_pg: a database transaction leaked by a recovered panic, in a net/http service on
// PostgreSQL (database/sql + github.com/lib/pq).
//
//   GET /transfer?id=N        db.Begin, an UPDATE and an INSERT, then Commit. For odd N the
//                             work panics two frames down (transferHandler -> applyTransfer ->
//                             checkLimit) before Commit. net/http's per-connection recover
//                             swallows the panic, and nothing ever commits or rolls back the
//                             *sql.Tx: its connection stays checked out of the pool and
//                             PostgreSQL shows the session "idle in transaction" (holding the
//                             row lock of account N) until the process exits.
//   GET /fixed-transfer?id=N  the same with `defer tx.Rollback()`: the deferred Rollback runs
//                             while the panic unwinds, so nothing leaks.
//   GET /ctx-transfer?id=N    no defer, but the transaction is begun with the request's
//                             context. net/http cancels that context when it drops the
//                             connection after the panic, and database/sql rolls the
//                             transaction back from its own goroutine (Tx.awaitDone): the panic
//                             skipped the cleanup, yet nothing leaks.
//   GET /stats                the pool's counters: leaked transactions keep connections in use.
//   GET /quit                 (or SIGTERM / SIGINT) graceful shutdown, exit status 0, so a
//                             tracer's at-exit report sees the leaked transactions still open.
//
// Every request touches only account N, so requests with distinct ids never wait on each
// other's row locks (scripts/pg-scenario.sh sends /transfer 1..6, /fixed-transfer 11..13,
// /ctx-transfer 21..23: 3 leaks, ids 1, 3 and 5).
//
// Environment: DEFTRACE_PG, a lib/pq connection string (scripts/pg-cluster.sh start prints
// one); without it the program says so and exits with status 2. The service listens on
// 127.0.0.1 at a free port and prints "listening on http://127.0.0.1:PORT" on stdout.
// Schema (scripts/pg-scenario.sh creates it):
//   CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);
//   CREATE TABLE ledger (id serial PRIMARY KEY, account int NOT NULL, amount bigint NOT NULL);
package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	_ "github.com/lib/pq"
)

const (
	debit     = `UPDATE accounts SET balance = balance - $2 WHERE id = $1`
	addLedger = `INSERT INTO ledger (account, amount) VALUES ($1, $2)`
	amount    = 10
)

var db *sql.DB

// checkLimit panics for odd accounts: the bug that skips the cleanup.
//
//go:noinline
func checkLimit(id int) {
	if id%2 == 1 {
		panic(fmt.Sprintf("transfer %d: over the daily limit", id))
	}
}

// applyTransfer does the work inside the transaction, then checks the limit.
//
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

// transfer leaks its transaction when applyTransfer panics: Commit and Rollback are both
// skipped.
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

// fixedTransfer: the deferred Rollback runs on every path (a no-op after Commit).
//
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

// ctxTransfer: no cleanup on the panic path, but the transaction dies with ctx.
//
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

func idParam(w http.ResponseWriter, r *http.Request) (int, bool) {
	id, err := strconv.Atoi(r.URL.Query().Get("id"))
	if err != nil || id < 1 || id > 1000000 {
		http.Error(w, "id must be an integer in 1..1000000", http.StatusBadRequest)
		return 0, false
	}
	return id, true
}

func handle(name string, run func(r *http.Request, id int) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := idParam(w, r)
		if !ok {
			return
		}
		if err := run(r, id); err != nil {
			http.Error(w, fmt.Sprintf("%s %d: %v", name, id, err), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s %d: committed\n", name, id)
	}
}

func main() {
	log.SetFlags(0)
	dsn := os.Getenv("DEFTRACE_PG")
	if dsn == "" {
		fmt.Fprintln(os.Stderr, "txleak_pg: DEFTRACE_PG is not set (a lib/pq connection string, e.g. from scripts/pg-cluster.sh start)")
		os.Exit(2)
	}
	var err error
	db, err = sql.Open("postgres", dsn)
	if err != nil {
		log.Fatalf("txleak_pg: %v", err)
	}
	defer db.Close()
	// Leaked transactions pin their connections: leave plenty so the service keeps working.
	db.SetMaxOpenConns(50)
	db.SetMaxIdleConns(10)
	if err := db.Ping(); err != nil {
		fmt.Fprintf(os.Stderr, "txleak_pg: cannot reach the database: %v\n", err)
		os.Exit(1)
	}

	quit := make(chan struct{})
	var quitOnce sync.Once
	mux := http.NewServeMux()
	mux.Handle("/transfer", handle("transfer", func(r *http.Request, id int) error { return transfer(id) }))
	mux.Handle("/fixed-transfer", handle("fixed-transfer", func(r *http.Request, id int) error { return fixedTransfer(id) }))
	mux.Handle("/ctx-transfer", handle("ctx-transfer", func(r *http.Request, id int) error { return ctxTransfer(r.Context(), id) }))
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		s := db.Stats()
		fmt.Fprintf(w, "open=%d in_use=%d idle=%d\n", s.OpenConnections, s.InUse, s.Idle)
	})
	mux.HandleFunc("/quit", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "bye")
		quitOnce.Do(func() { close(quit) })
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatalf("txleak_pg: %v", err)
	}
	// No timestamps: the panic reports net/http logs are the same on every run.
	srv := &http.Server{Handler: mux, ErrorLog: log.New(os.Stderr, "", 0)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Printf("listening on http://%s\n", ln.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	select {
	case <-quit:
	case s := <-sig:
		fmt.Fprintf(os.Stderr, "txleak_pg: %v\n", s)
	case err := <-served:
		log.Fatalf("txleak_pg: serve: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "txleak_pg: shutdown: %v\n", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "txleak_pg: serve: %v\n", err)
	}
	fmt.Printf("exiting with %d connections in use\n", db.Stats().InUse)
}
