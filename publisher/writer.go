package publisher

import (
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/renderswarm/renderswarm/scheduler"
)

// Writing coordinators' changes: group commit.
//
// Every change a volunteer's request makes is persisted before the answer
// leaves (a lease granted, then lost in a crash, would waste the render),
// and SQLite makes each commit durable with a sync of its log. One
// transaction per change would cap a publisher at a few hundred changes a
// second; instead changes queue, and whoever finds no flush under way
// writes everything queued in one transaction while the others wait for
// it. Under load one sync serves many requests; alone, a request waits for
// its own.

// change is one job's persisted state to write, with the claims and
// meetings recorded since the last.
type change struct {
	job     string
	changes scheduler.Changes
	rows    []claimRow
	done    bool
	err     error
}

// claimRow is a volunteer's claim for a delivered result (peer set) or a
// meeting of two peers on a decided task (a and b set).
type claimRow struct {
	task string
	peer string
	cu   int64
	a, b string
}

// writer batches changes into transactions.
type writer struct {
	db *sql.DB

	mu       sync.Mutex
	cond     *sync.Cond
	queue    []*change
	flushing bool
}

func newWriter(d *sql.DB) *writer {
	w := &writer{db: d}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// enqueue queues a job's changes. Call it in the order the changes were
// made (with the job's lock held), and wait after releasing the lock.
func (w *writer) enqueue(job string, ch scheduler.Changes, rows []claimRow) *change {
	c := &change{job: job, changes: ch, rows: rows}
	w.mu.Lock()
	w.queue = append(w.queue, c)
	w.mu.Unlock()
	return c
}

// wait returns once c is written, writing it (and whatever else is queued)
// itself when no flush is under way.
func (w *writer) wait(c *change, now time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for !c.done {
		if w.flushing {
			w.cond.Wait()
			continue
		}
		batch := w.queue
		w.queue, w.flushing = nil, true
		w.mu.Unlock()
		err := w.flush(batch, now)
		w.mu.Lock()
		for _, b := range batch {
			b.done, b.err = true, err
		}
		w.flushing = false
		w.cond.Broadcast()
	}
	return c.err
}

// The statements of a group write.
const (
	saveHead = `UPDATE published_jobs SET snapshot = ?, updated = ? WHERE id = ?`
	saveTask = `INSERT INTO published_tasks (job, idx, state) VALUES (?, ?, ?)
		ON CONFLICT (job, idx) DO UPDATE SET state = excluded.state`
	saveClaim = `INSERT INTO published_claims (job, task, peer, cu) VALUES (?, ?, ?, ?)
		ON CONFLICT (job, task, peer) DO UPDATE SET cu = excluded.cu`
	saveMet = `INSERT INTO published_pairs (a, b, met) VALUES (?, ?, 1)
		ON CONFLICT (a, b) DO UPDATE SET met = met + 1`
	savePoints = `INSERT INTO published_points (job, peer, points) VALUES (?, ?, ?)
		ON CONFLICT (job, peer) DO UPDATE SET points = excluded.points`
)

// flush writes a batch in one transaction, in order.
func (w *writer) flush(batch []*change, now time.Time) error {
	if len(batch) == 0 {
		return nil
	}
	tx, err := w.db.Begin()
	if err != nil {
		return fmt.Errorf("saving jobs: %w", err)
	}
	defer tx.Rollback()
	// Statements by their text: the connection keeps them prepared
	// (internal/db), where a Prepare here would parse all four anew at
	// every group write.
	for _, c := range batch {
		for _, r := range c.rows {
			if r.a != "" {
				_, err = tx.Exec(saveMet, r.a, r.b)
			} else {
				_, err = tx.Exec(saveClaim, c.job, r.task, r.peer, r.cu)
			}
			if err != nil {
				return fmt.Errorf("saving job %s: %w", c.job, err)
			}
		}
		if _, err := tx.Exec(saveHead, c.changes.Header, now.Unix(), c.job); err != nil {
			return fmt.Errorf("saving job %s: %w", c.job, err)
		}
		for i, state := range c.changes.Tasks {
			if _, err := tx.Exec(saveTask, c.job, i, state); err != nil {
				return fmt.Errorf("saving job %s: %w", c.job, err)
			}
		}
		for p, n := range c.changes.Points {
			if _, err := tx.Exec(savePoints, c.job, p.String(), n); err != nil {
				return fmt.Errorf("saving job %s: %w", c.job, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("saving jobs: %w", err)
	}
	return nil
}
