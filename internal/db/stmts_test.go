package db

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// withTable opens a new database holding table t (k INTEGER PRIMARY KEY,
// v of type typ), closed when the test ends.
func withTable(t testing.TB, typ string) *sql.DB {
	t.Helper()
	d, err := Open(filepath.Join(t.TempDir(), "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY, v ` + typ + `)`); err != nil {
		t.Fatal(err)
	}
	return d
}

// A query run again inside its own open rows, in one transaction (so on
// one connection), gets its own statement: the kept one is busy. Each
// row it reads is the one it asked for.
func TestKeptStatementNestedInItsOwnRows(t *testing.T) {
	d := withTable(t, "TEXT")
	for k := range 5 {
		if _, err := d.Exec(`INSERT INTO t (k, v) VALUES (?, ?)`, k, fmt.Sprint("v", k)); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := d.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	const q = `SELECT k, v FROM t WHERE k >= ? ORDER BY k`
	outer, err := tx.Query(q, 0)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for outer.Next() {
		var k int
		var v string
		if err := outer.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		var k2 int
		var v2 string
		if err := tx.QueryRow(q, k).Scan(&k2, &v2); err != nil || k2 != k || v2 != v {
			t.Fatalf("nested query for %d: %d %q, %v", k, k2, v2, err)
		}
		seen = append(seen, v)
	}
	if err := outer.Err(); err != nil || len(seen) != 5 {
		t.Fatalf("outer rows: %v, %v", seen, err)
	}
	outer.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// Statements run many times, concurrently and past the bound on kept
// ones, give the same answers as unprepared ones; a wrong one reports
// its error every time.
func TestKeptStatementsAnswerAsUnprepared(t *testing.T) {
	d := withTable(t, "INTEGER")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := w*1000 + i
				if _, err := d.Exec(`INSERT INTO t (k, v) VALUES (?, ?)`, k, 2*k); err != nil {
					errs <- err
					return
				}
				var v int
				// A text of its own per row past the first few: more texts
				// than a connection keeps.
				q := `SELECT v FROM t WHERE k = ?`
				if i > 10 {
					q = fmt.Sprintf(`SELECT v FROM t WHERE k = ? AND %d = %d`, k, k)
				}
				if err := d.QueryRow(q, k).Scan(&v); err != nil || v != 2*k {
					errs <- fmt.Errorf("row %d: %d, %v", k, v, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := d.Exec(`INSERT INTO nowhere VALUES (1)`); err == nil {
			t.Fatal("insert into a missing table succeeded")
		}
	}
	var n int
	if err := d.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != 400 {
		t.Fatalf("%d rows, %v; want 400", n, err)
	}
}

// BenchmarkContendedWrites measures small write transactions from eight
// goroutines at once, as a publisher's job store, ledger and asset index
// write together (go test -run '^$' -bench ContendedWrites ./internal/db).
// worst-ms is the slowest: a writer that finds the database locked sleeps
// in SQLite's busy handler, 1, 2, 5, 10… up to 100 ms between tries, and
// can keep losing (about 0.9 s here; 7 ms when the writers took turns in
// the process, at the same throughput, but in one 100,000-result job the
// rate then fell from 205 to 178 results/s: the publisher's group write
// queued behind the others' writes).
func BenchmarkContendedWrites(b *testing.B) {
	d := withTable(b, "BLOB")
	var mu sync.Mutex
	var worst time.Duration
	var next atomic.Int64
	b.SetParallelism(4) // 8 goroutines on 2 cores
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			start := time.Now()
			tx, err := d.Begin()
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := tx.Exec(`INSERT INTO t (k, v) VALUES (?, ?)`, next.Add(1), make([]byte, 200)); err != nil {
				b.Error(err)
				tx.Rollback()
				return
			}
			if err := tx.Commit(); err != nil {
				b.Error(err)
				return
			}
			took := time.Since(start)
			mu.Lock()
			worst = max(worst, took)
			mu.Unlock()
		}
	})
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
}
