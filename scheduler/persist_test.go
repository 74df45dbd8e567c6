package scheduler

import (
	"bytes"
	"errors"
	"maps"
	"testing"
	"time"
)

// store keeps what a publisher would have persisted from Changes.
type store struct {
	header []byte
	rows   map[int][]byte
}

func (s *store) apply(t testing.TB, c *Coordinator) int {
	t.Helper()
	ch, err := c.Changes()
	if err != nil {
		t.Fatal(err)
	}
	s.header = ch.Header
	if s.rows == nil {
		s.rows = map[int][]byte{}
	}
	maps.Copy(s.rows, ch.Tasks)
	return len(ch.Tasks)
}

// Rows persisted a change at a time rebuild the same coordinator as a
// whole snapshot, and only the tasks that changed are written each time.
func TestChangesRoundTrip(t *testing.T) {
	ps := testPeers(t, 5)
	c, cfg, _ := midJob(t, ps)
	var st store
	if n := st.apply(t, c); n != 5 {
		t.Fatalf("first Changes wrote %d rows, want the 5 tasks touched", n)
	}
	if n := st.apply(t, c); n != 0 {
		t.Fatalf("Changes with nothing changed wrote %d rows", n)
	}
	// One more lease: one row.
	l := mustLease(t, c, t0, ps[4], "")
	if n := st.apply(t, c); n != 1 {
		t.Fatalf("a lease wrote %d rows, want 1", n)
	}
	want, _ := c.Snapshot()
	cfg.Rand = seeded(7)
	r, err := RestoreRows(cfg, st.header, st.rows, t0)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := r.Snapshot()
	if !bytes.Equal(got, want) {
		t.Fatalf("restored from rows:\n%s\nwant:\n%s", got, want)
	}
	// The restored coordinator goes on: the new lease still delivers.
	deliver(t, r, t0.Add(time.Minute), l, "frame6")
	if _, err := r.Lease(t0, ps[3], ""); !errors.Is(err, ErrBlocked) {
		t.Fatalf("a blocklisted peer after restoring rows: %v", err)
	}
}

// Rows that do not belong are refused, wrapping ErrBadSnapshot.
func TestRestoreRowsRejects(t *testing.T) {
	ps := testPeers(t, 5)
	c, cfg, _ := midJob(t, ps)
	var st store
	st.apply(t, c)
	snap, _ := c.Snapshot()
	for name, tc := range map[string]struct {
		header []byte
		rows   map[int][]byte
	}{
		"a whole snapshot as header": {snap, nil},
		"row under another index":    {st.header, map[int][]byte{4: st.rows[2]}},
		"row out of range":           {st.header, map[int][]byte{99: st.rows[2]}},
		"garbage row":                {st.header, map[int][]byte{2: []byte(`{"t":`)}},
		"garbage header":             {[]byte(`{"v":2`), st.rows},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := RestoreRows(cfg, tc.header, tc.rows, t0); !errors.Is(err, ErrBadSnapshot) {
				t.Fatalf("err = %v, want ErrBadSnapshot", err)
			}
		})
	}
}
