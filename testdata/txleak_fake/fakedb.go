// fakedb: a tiny in-process database/sql driver, just enough for txleak_fake. It understands
// only the two statements the service runs (matched verbatim), keeps its tables in memory,
// applies a transaction's writes on Commit and counts the transactions that are still open:
// what PostgreSQL would show as "idle in transaction".
package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sort"
	"sync"
)

const (
	debit     = `UPDATE accounts SET balance = balance - $2 WHERE id = $1`
	addLedger = `INSERT INTO ledger (account, amount) VALUES ($1, $2)`
)

type store struct {
	mu       sync.Mutex
	balance  map[int64]int64
	ledger   int
	nextTx   int
	open     map[int]*fakeTx // begun, neither committed nor rolled back
	conns    int             // connections opened and not yet closed
	commits  int
	rollback int
}

var theStore = &store{balance: map[int64]int64{}, open: map[int]*fakeTx{}}

func init() { sql.Register("fakedb", fakeDriver{}) }

type fakeDriver struct{}

func (fakeDriver) Open(name string) (driver.Conn, error) {
	s := theStore
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	return &fakeConn{s: s}, nil
}

type fakeConn struct {
	s  *store
	tx *fakeTx
}

type write struct {
	query   string
	account int64
	amount  int64
}

type fakeTx struct {
	c      *fakeConn
	id     int
	writes []write
}

func (c *fakeConn) Prepare(query string) (driver.Stmt, error) {
	return nil, errors.New("fakedb: prepared statements are not supported")
}

func (c *fakeConn) Close() error {
	c.s.mu.Lock()
	c.s.conns--
	c.s.mu.Unlock()
	return nil
}

func (c *fakeConn) Begin() (driver.Tx, error) { return c.BeginTx(context.Background(), driver.TxOptions{}) }

func (c *fakeConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.tx != nil {
		return nil, errors.New("fakedb: transaction already in progress")
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.s.nextTx++
	c.tx = &fakeTx{c: c, id: c.s.nextTx}
	c.s.open[c.tx.id] = c.tx
	return c.tx, nil
}

func (c *fakeConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if query != debit && query != addLedger {
		return nil, fmt.Errorf("fakedb: unknown statement %q", query)
	}
	if len(args) != 2 {
		return nil, fmt.Errorf("fakedb: %d arguments, want 2", len(args))
	}
	a, ok1 := args[0].Value.(int64)
	b, ok2 := args[1].Value.(int64)
	if !ok1 || !ok2 {
		return nil, errors.New("fakedb: arguments must be integers")
	}
	w := write{query, a, b}
	if c.tx != nil {
		c.tx.writes = append(c.tx.writes, w)
	} else {
		c.s.mu.Lock()
		c.s.apply(w)
		c.s.mu.Unlock()
	}
	return driver.RowsAffected(1), nil
}

func (s *store) apply(w write) {
	if w.query == debit {
		s.balance[w.account] -= w.amount
	} else {
		s.ledger++
	}
}

func (t *fakeTx) end(commit bool) error {
	s := t.c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.open[t.id]; !ok {
		return errors.New("fakedb: transaction already finished")
	}
	delete(s.open, t.id)
	t.c.tx = nil
	if commit {
		for _, w := range t.writes {
			s.apply(w)
		}
		s.commits++
	} else {
		s.rollback++
	}
	return nil
}

func (t *fakeTx) Commit() error   { return t.end(true) }
func (t *fakeTx) Rollback() error { return t.end(false) }

// openTxs returns the ids of the transactions still open, oldest first.
func openTxs() []int {
	s := theStore
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int, 0, len(s.open))
	for id := range s.open {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

// countOpen is what waitSettled polls: open transactions and open connections. It unlocks
// without a defer: how many polls a wait takes depends on timing, and must not change the
// program's trace from run to run. (The same goes for Open and Close above.)
func countOpen() (txs, conns int) {
	s := theStore
	s.mu.Lock()
	txs, conns = len(s.open), s.conns
	s.mu.Unlock()
	return txs, conns
}

func counters() (commits, rollbacks, ledger int) {
	s := theStore
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commits, s.rollback, s.ledger
}
