// resource_probes: every resource the shipped probes follow (os.File, database/sql connections
// and transactions), released properly, abandoned by a recovered panic, and left open at exit.
// The expected report (tests/integration/leaks_test.cpp): 3 abandoned, by the panics of
// loadConfig, reserve and audit, and 2 open at exit, opened by keepLog and pin.
package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// A driver with no storage: connections and transactions that do nothing.
type nopDriver struct{}
type nopConn struct{}
type nopTx struct{}

func (nopDriver) Open(string) (driver.Conn, error) { return nopConn{}, nil }
func (nopConn) Prepare(string) (driver.Stmt, error) {
	return nil, errors.New("nopdb: no statements")
}
func (nopConn) Close() error              { return nil }
func (nopConn) Begin() (driver.Tx, error) { return nopTx{}, nil }
func (nopTx) Commit() error               { return nil }
func (nopTx) Rollback() error             { return nil }

func init() { sql.Register("nopdb", nopDriver{}) }

var dir string

// guard recovers a panic of f, as net/http does for a handler.
func guard(name string, f func()) {
	defer func() {
		if v := recover(); v != nil {
			fmt.Printf("%s: recovered: %v\n", name, v)
		}
	}()
	f()
}

// readConfig closes its file on every path.
func readConfig() {
	f, err := os.Open(filepath.Join(dir, "config"))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	fmt.Println("readConfig: read")
}

// loadConfig opens a file and panics before closing it.
func loadConfig() {
	f, err := os.Open(filepath.Join(dir, "config"))
	if err != nil {
		panic(err)
	}
	if f != nil {
		panic("config: bad syntax")
	}
	f.Close()
}

// keepLog opens a file it never closes, without any panic.
var logFile *os.File

func keepLog() {
	f, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		panic(err)
	}
	logFile = f
}

// reserve takes a connection from the pool and panics while holding it.
func reserve(db *sql.DB) {
	c, err := db.Conn(context.Background())
	if err != nil {
		panic(err)
	}
	if c != nil {
		panic("reserve: quota exceeded")
	}
	c.Close()
}

// pin takes a connection and keeps it.
var pinned *sql.Conn

func pin(db *sql.DB) {
	c, err := db.Conn(context.Background())
	if err != nil {
		panic(err)
	}
	pinned = c
}

// commitOne begins and commits a transaction.
func commitOne(db *sql.DB) {
	tx, err := db.Begin()
	if err != nil {
		panic(err)
	}
	defer tx.Rollback() // after Commit, a no-op
	if err := tx.Commit(); err != nil {
		panic(err)
	}
	fmt.Println("commitOne: committed")
}

// audit begins a transaction and panics before ending it.
func audit(db *sql.DB) {
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		panic(err)
	}
	if tx != nil {
		panic(fmt.Errorf("audit: %d records missing", 2))
	}
	tx.Commit()
}

func main() {
	var err error
	if dir, err = os.MkdirTemp("", "resource_probes"); err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte("x=1\n"), 0o600); err != nil {
		panic(err)
	}
	db, err := sql.Open("nopdb", "")
	if err != nil {
		panic(err)
	}
	defer db.Close()

	readConfig()
	guard("loadConfig", loadConfig)
	keepLog()
	guard("reserve", func() { reserve(db) })
	pin(db)
	commitOne(db)
	guard("audit", func() { audit(db) })
	fmt.Println("done")
}
