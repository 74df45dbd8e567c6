package db

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync"
)

// Each connection keeps the statements it ran prepared, keyed by their
// text, and runs them again without parsing: at hundreds of results a
// second, preparing the same few queries anew each time was 5 % of a
// publisher's CPU. A statement in use (its rows still open, or a query
// nested inside them) is not shared: the nested one runs unprepared.

// maxStmts bounds the statements one connection keeps prepared; past it,
// new ones are prepared and finalized at each use, as without the cache.
const maxStmts = 128

// connector wraps the SQLite driver's connector so that its connections
// keep their statements.
type connector struct{ inner driver.Connector }

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	ic, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	full, ok := ic.(fullConn)
	if !ok {
		ic.Close()
		return nil, fmt.Errorf("the SQLite driver's connection (%T) lacks a method this package relies on", ic)
	}
	return &conn{fullConn: full, stmts: map[string]*stmt{}}, nil
}

func (c connector) Driver() driver.Driver { return c.inner.Driver() }

// fullConn is what the SQLite driver's connection implements and
// database/sql looks for.
type fullConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type conn struct {
	fullConn
	mu    sync.Mutex
	stmts map[string]*stmt
}

// stmt is a prepared statement of a connection; busy while its rows are
// open.
type stmt struct {
	s    preparedStmt
	busy bool
}

type preparedStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// take returns query's prepared statement, marked busy, or nil when it is
// busy, cannot be kept or cannot be prepared (the caller then runs it
// unprepared, which reports any error).
func (c *conn) take(ctx context.Context, query string) *stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.stmts[query]; ok {
		if s.busy {
			return nil
		}
		s.busy = true
		return s
	}
	if len(c.stmts) >= maxStmts {
		return nil
	}
	ds, err := c.fullConn.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	ps, ok := ds.(preparedStmt)
	if !ok {
		ds.Close()
		return nil
	}
	s := &stmt{s: ps, busy: true}
	c.stmts[query] = s
	return s
}

func (c *conn) release(s *stmt) {
	c.mu.Lock()
	s.busy = false
	c.mu.Unlock()
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s := c.take(ctx, query)
	if s == nil {
		return c.fullConn.ExecContext(ctx, query, args)
	}
	defer c.release(s)
	return s.s.ExecContext(ctx, args)
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s := c.take(ctx, query)
	if s == nil {
		return c.fullConn.QueryContext(ctx, query, args)
	}
	r, err := s.s.QueryContext(ctx, args)
	if err != nil {
		c.release(s)
		return nil, err
	}
	return &rows{Rows: r, c: c, s: s}, nil
}

// Close finalizes the kept statements, then closes the connection.
func (c *conn) Close() error {
	c.mu.Lock()
	for q, s := range c.stmts {
		s.s.Close()
		delete(c.stmts, q)
	}
	c.mu.Unlock()
	return c.fullConn.Close()
}

// rows gives its statement back when closed.
type rows struct {
	driver.Rows
	c    *conn
	s    *stmt
	once sync.Once
}

func (r *rows) Close() error {
	err := r.Rows.Close()
	r.once.Do(func() { r.c.release(r.s) })
	return err
}
