package publisher

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/internal/db"
	"github.com/renderswarm/renderswarm/scheduler"
)

// BenchmarkGroupWrite measures one group write (16 requests' changes, two
// task rows each, rows of a window of the job that moves as a job's leases
// do) in a job whose table already holds n task rows: a 100,000-frame job
// ends with 100,000. The cost should not grow with n (go test -run '^$'
// -bench GroupWrite ./publisher).
func BenchmarkGroupWrite(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			d, err := db.Open(filepath.Join(b.TempDir(), "node.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			st, err := openJobStore(context.Background(), d)
			if err != nil {
				b.Fatal(err)
			}
			const id = "job"
			if _, err := d.Exec(`INSERT INTO published_jobs (id, signed, snapshot, created, updated) VALUES (?, x'00', x'00', 0, 0)`, id); err != nil {
				b.Fatal(err)
			}
			state := make([]byte, 180) // a decided task's row
			tx, err := d.Begin()
			if err != nil {
				b.Fatal(err)
			}
			for i := range n {
				if _, err := tx.Exec(`INSERT INTO published_tasks (job, idx, state) VALUES (?, ?, ?)`, id, i, state); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			next := n / 2 // the window of tasks being leased, committed, delivered
			b.ResetTimer()
			for range b.N {
				batch := make([]*change, 16)
				for k := range batch {
					rows := map[int][]byte{next % n: state, (next + 40) % n: state}
					next++
					batch[k] = &change{job: id, changes: scheduler.Changes{Header: state, Tasks: rows}}
				}
				if err := st.w.flush(batch, time.Unix(0, 0)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
