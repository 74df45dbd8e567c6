package scheduler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Incremental persistence.
//
// Snapshot encodes a whole job at once; a large job changes a task at a
// time, so the publisher persists Changes instead: a small header (the
// job-level state: lease counter, clock, pause), one row per task and the
// failure points of each peer that changed since the previous call.
// RestoreRows rebuilds a coordinator from the latest header, every task's
// latest row and every peer's latest points; a task without a row is as
// in a fresh job. (Headers written before points had rows of their own
// list every peer's points; they are read, and the points written as rows
// at the next Changes.) Renewals change nothing that is
// persisted (leases live at the latest time seen get the downtime added on
// restore, as with Restore).

// RowsVersion is the format of Changes' header and rows.
const RowsVersion = 2

// Changes is a coordinator's state changed since the previous call:
// Header, always; Tasks, the encoded rows of the tasks that changed, by
// index in work order; Points, the failure points of the peers whose
// points changed (a peer's total, never zero).
type Changes struct {
	Header []byte
	Tasks  map[int][]byte
	Points map[peer.ID]int
}

// taskRow is one task's row: the task as in a snapshot, with its own table
// of the peers it names.
type taskRow struct {
	Peers []peer.ID `json:"peers,omitempty"`
	Task  taskSnap  `json:"t"`
}

// touch notes that task i changed since the last Changes (and for
// Uncredited and Suspects).
func (c *Coordinator) touch(i int) {
	c.dirty[i] = struct{}{}
	c.watched[i] = struct{}{}
}

// Changes returns the header and the rows of the tasks changed since the
// previous call (every task changed by a restore from a Snapshot
// included).
func (c *Coordinator) Changes() (Changes, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := snapshot{
		Version: RowsVersion, Job: c.cfg.Job.String(), Tasks: c.fingerprint, Replicas: c.cfg.Replicas,
		Seq: c.seq, Paused: c.paused, Canceled: c.canceled,
	}
	if !c.clock.IsZero() {
		h.Clock = c.clock.UnixNano()
	}
	header, err := json.Marshal(h)
	if err != nil {
		return Changes{}, fmt.Errorf("encoding coordinator header: %w", err)
	}
	out := Changes{Header: header, Tasks: make(map[int][]byte, len(c.dirty)), Points: make(map[peer.ID]int, len(c.dirtyPoints))}
	for p := range c.dirtyPoints {
		out.Points[p] = c.points[p]
	}
	clear(c.dirtyPoints)
	for i := range c.dirty {
		var row taskRow
		table := map[peer.ID]int{}
		row.Task = c.snapTask(i, func(p peer.ID) int {
			k, ok := table[p]
			if !ok {
				k = len(row.Peers)
				table[p] = k
				row.Peers = append(row.Peers, p)
			}
			return k
		})
		b, err := json.Marshal(row)
		if err != nil {
			return Changes{}, fmt.Errorf("encoding task %s: %w", c.tasks[i].t, err)
		}
		out.Tasks[i] = b
	}
	clear(c.dirty)
	return out, nil
}

// RestoreRows rebuilds a coordinator from the latest header, task rows
// and points of Changes for the same job (cfg lists the same tasks with
// the same replication policy). It checks every value like Restore, and
// gives the leases live at the header's time the publisher's downtime.
func RestoreRows(cfg Config, header []byte, rows map[int][]byte, points map[peer.ID]int, now time.Time) (*Coordinator, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	var h snapshot
	if err := decodeExact(header, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrBadSnapshot, err)
	}
	if len(h.State) > 0 {
		return nil, fmt.Errorf("%w: header holds tasks", ErrBadSnapshot)
	}
	if err := c.loadHeader(&h, RowsVersion); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}
	for p, n := range points {
		if err := checkPeer(p); err != nil {
			return nil, fmt.Errorf("%w: points: %v", ErrBadSnapshot, err)
		}
		if n <= 0 || n > maxPoints {
			return nil, fmt.Errorf("%w: failure points of %s: %d", ErrBadSnapshot, p, n)
		}
		c.points[p] = n // newer than a header's
		delete(c.dirtyPoints, p)
	}
	idx := make([]int, 0, len(rows))
	for i := range rows {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		var row taskRow
		if err := decodeExact(rows[i], &row); err != nil {
			return nil, fmt.Errorf("%w: task row %d: %v", ErrBadSnapshot, i, err)
		}
		if i < 0 || i >= len(c.tasks) || row.Task.I != i {
			return nil, fmt.Errorf("%w: task row %d names task %d", ErrBadSnapshot, i, row.Task.I)
		}
		s := &snapshot{Peers: row.Peers}
		if err := checkPeerTable(row.Peers); err != nil {
			return nil, fmt.Errorf("%w: task row %d: %v", ErrBadSnapshot, i, err)
		}
		if err := c.loadTask(s, c.tasks[i], &row.Task); err != nil {
			return nil, fmt.Errorf("%w: task %s: %v", ErrBadSnapshot, c.tasks[i].t, err)
		}
	}
	c.settle()
	c.resume(now)
	return c, nil
}

// checkPeerTable checks a table of peer IDs: each valid, none twice.
func checkPeerTable(ps []peer.ID) error {
	seen := make(map[peer.ID]bool, len(ps))
	for _, p := range ps {
		if err := checkPeer(p); err != nil {
			return err
		}
		if seen[p] {
			return fmt.Errorf("peer %s listed twice", p)
		}
		seen[p] = true
	}
	return nil
}

// decodeExact decodes one JSON value with no unknown fields and nothing
// after it.
func decodeExact(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("data after the value")
	}
	return nil
}
