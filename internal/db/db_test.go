package db

import (
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/fstest"
)

func TestMigrateAppliesOnceAndSurvivesReopen(t *testing.T) {
	file := filepath.Join(t.TempDir(), "node.db")
	for i := 0; i < 2; i++ {
		d, err := Open(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := Migrate(t.Context(), d, "test", os.DirFS("testdata"), "m"); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		var n int
		if err := d.QueryRow(`SELECT count(*) FROM a WHERE y = 'one'`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("run %d: rows = %d, %v (want the data migration applied exactly once)", i, n, err)
		}
		var mode string
		d.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
		if mode != "wal" {
			t.Fatalf("journal_mode = %q, want wal", mode)
		}
		d.Close()
	}
}

func TestMigrateFailureRollsBack(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	bad := fstest.MapFS{
		"m/0001_ok.sql":  {Data: []byte(`CREATE TABLE ok (x INTEGER);`)},
		"m/0002_bad.sql": {Data: []byte(`CREATE TABLE half (x INTEGER); THIS IS NOT SQL;`)},
	}
	if err := Migrate(t.Context(), d, "c", bad, "m"); err == nil {
		t.Fatal("a broken migration was accepted")
	}
	var n int
	d.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'half'`).Scan(&n)
	if n != 0 {
		t.Fatal("a failed migration left a table behind")
	}
	d.QueryRow(`SELECT count(*) FROM schema_migrations WHERE component = 'c'`).Scan(&n)
	if n != 1 {
		t.Fatalf("recorded migrations = %d, want 1", n)
	}
}

// Commits are durable when they return: a receipt written before it leaves
// the node survives a power loss.
func TestCommitsAreDurable(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var mode int
	if err := d.QueryRow(`PRAGMA synchronous`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != 2 { // FULL
		t.Fatalf("synchronous = %d, want 2 (FULL)", mode)
	}
}

// Transactions that read, then write, from many goroutines at once (a
// receipt issued while others are countersigned) wait for each other; none
// fails with "database is locked". A deferred transaction that read before
// another committed could not take the write lock and failed at once, busy
// timeout or not.
func TestConcurrentReadThenWriteTransactions(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Exec(`CREATE TABLE counter (n INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`INSERT INTO counter VALUES (0)`); err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 25
	errs := make(chan error, writers*each)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				errs <- increment(d)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := d.QueryRow(`SELECT n FROM counter`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != writers*each {
		t.Fatalf("counter is %d after %d increments", n, writers*each)
	}
}

func increment(d *sql.DB) error {
	tx, err := d.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRow(`SELECT n FROM counter`).Scan(&n); err != nil {
		return err
	}
	if _, err := tx.Exec(`UPDATE counter SET n = ?`, n+1); err != nil {
		return err
	}
	return tx.Commit()
}
