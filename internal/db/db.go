// Package db opens a node's embedded SQLite database (pure Go, WAL) and
// applies the schema migrations each component embeds. Its connections
// keep the statements they ran prepared (stmts.go).
//
// Every component that persists state owns its tables and ships its own
// numbered migrations; Migrate records per component which ones ran, so
// components evolve their schemas independently. It imports only the
// standard library and the SQLite driver.
package db

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"modernc.org/sqlite"
)

// Open opens (creating if needed) the database at file with WAL journaling,
// foreign keys and a busy timeout, so that concurrent writers wait instead of
// failing. Transactions take the write lock when they begin (BEGIN
// IMMEDIATE): one that read first and wrote after another's commit would
// otherwise fail at once with "database is locked", busy timeout or not. Every commit is durable when it returns (synchronous=FULL: the
// WAL is synced at each commit): a receipt or countersignature that leaves
// the node after its write survives a power loss. Writers that commit often
// batch their changes into fewer transactions instead of weakening this.
func Open(file string) (*sql.DB, error) {
	dsn := "file:" + file + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_txlock=immediate"
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("opening database %s: %w", file, err)
	}
	d := sql.OpenDB(connector{c})
	if err := d.Ping(); err != nil {
		d.Close()
		return nil, fmt.Errorf("opening database %s: %w", file, err)
	}
	return d, nil
}

// Migrate applies, in order and each in its own transaction, the migrations
// in dir of fsys not yet applied for component. Files are named
// "NNNN_description.sql"; NNNN orders them and must not be reused.
func Migrate(ctx context.Context, d *sql.DB, component string, fsys fs.FS, dir string) error {
	if _, err := d.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		component TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (component, version))`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return fmt.Errorf("reading %s migrations: %w", component, err)
	}
	type mig struct {
		version int
		name    string
	}
	var migs []mig
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return fmt.Errorf("%s migration %s: name must start with a number", component, e.Name())
		}
		migs = append(migs, mig{v, e.Name()})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })
	for _, m := range migs {
		var n int
		if err := d.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE component = ? AND version = ?`,
			component, m.version).Scan(&n); err != nil {
			return fmt.Errorf("checking %s migration %d: %w", component, m.version, err)
		}
		if n > 0 {
			continue
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, m.name))
		if err != nil {
			return fmt.Errorf("reading %s migration %s: %w", component, m.name, err)
		}
		if err := apply(ctx, d, component, m.version, string(body)); err != nil {
			return fmt.Errorf("applying %s migration %s: %w", component, m.name, err)
		}
	}
	return nil
}

func apply(ctx context.Context, d *sql.DB, component string, version int, body string) error {
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (component, version) VALUES (?, ?)`,
		component, version); err != nil {
		return err
	}
	return tx.Commit()
}
