package scheduler

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// store keeps what a publisher would have persisted from Changes.
type store struct {
	header []byte
	rows   map[int][]byte
	points map[peer.ID]int
}

// apply keeps c's Changes and returns how many task rows they wrote.
func (s *store) apply(t testing.TB, c *Coordinator) int {
	t.Helper()
	return len(s.changes(t, c).Tasks)
}

// changes keeps c's Changes and returns them.
func (s *store) changes(t testing.TB, c *Coordinator) Changes {
	t.Helper()
	ch, err := c.Changes()
	if err != nil {
		t.Fatal(err)
	}
	s.header = ch.Header
	if s.rows == nil {
		s.rows, s.points = map[int][]byte{}, map[peer.ID]int{}
	}
	maps.Copy(s.rows, ch.Tasks)
	maps.Copy(s.points, ch.Points)
	return ch
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
	r, err := RestoreRows(cfg, st.header, st.rows, st.points, t0)
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
		points map[peer.ID]int
	}{
		"a whole snapshot as header": {snap, nil, nil},
		"row under another index":    {st.header, map[int][]byte{4: st.rows[2]}, nil},
		"row out of range":           {st.header, map[int][]byte{99: st.rows[2]}, nil},
		"garbage row":                {st.header, map[int][]byte{2: []byte(`{"t":`)}, nil},
		"garbage header":             {[]byte(`{"v":2`), st.rows, nil},
		"no points":                  {st.header, st.rows, map[peer.ID]int{ps[0]: 0}},
		"negative points":            {st.header, st.rows, map[peer.ID]int{ps[0]: -3}},
		"points past the bound":      {st.header, st.rows, map[peer.ID]int{ps[0]: maxPoints + 1}},
		"points of no peer":          {st.header, st.rows, map[peer.ID]int{peer.ID("x"): 2}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := RestoreRows(cfg, tc.header, tc.rows, tc.points, t0); !errors.Is(err, ErrBadSnapshot) {
				t.Fatalf("err = %v, want ErrBadSnapshot", err)
			}
		})
	}
}

// Failure points are written a peer at a time: the header keeps its size
// however many peers failed, and a Changes carries only the points that
// changed since the previous one.
func TestChangesWritePointsOfChangedPeersOnly(t *testing.T) {
	ps := testPeers(t, 41)
	cfg := testConfig(60, 1)
	cfg.MaxFailures = 100 // nobody is blocked: every peer keeps asking
	c := newCoord(t, cfg)
	fail := func(p peer.ID) {
		t.Helper()
		l := mustLease(t, c, t0, p, "")
		if err := c.Release(t0, l.ID, p); err != nil {
			t.Fatal(err)
		}
	}
	var st store
	fail(ps[0])
	st.apply(t, c)
	one := len(st.header)
	for _, p := range ps[1:40] {
		fail(p)
	}
	ch := st.changes(t, c)
	if len(ch.Header) > one+1 { // the lease counter's digits: 1 → 40
		t.Fatalf("the header grew from %d to %d bytes with 39 more peers' points", one, len(ch.Header))
	}
	if len(ch.Points) != 39 {
		t.Fatalf("%d peers' points written, want the 39 that failed since", len(ch.Points))
	}
	fail(ps[40])
	fail(ps[0])
	ch = st.changes(t, c)
	if want := map[peer.ID]int{ps[40]: releasePoints, ps[0]: 2 * releasePoints}; !maps.Equal(ch.Points, want) {
		t.Fatalf("Changes wrote points %v, want only the two peers charged since: %v", ch.Points, want)
	}
	want, _ := c.Snapshot()
	r, err := RestoreRows(cfg, st.header, st.rows, st.points, t0)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Snapshot(); !bytes.Equal(got, want) {
		t.Fatalf("restored:\n%s\nwant:\n%s", got, want)
	}
}

// A header written when it held every peer's points still restores them,
// and the next Changes writes them as rows, so that nothing is lost once
// headers no longer carry them.
func TestPointsOfAnOlderHeader(t *testing.T) {
	ps := testPeers(t, 5)
	c, cfg, _ := midJob(t, ps)
	var st store
	st.apply(t, c)
	var h snapshot
	if err := json.Unmarshal(st.header, &h); err != nil {
		t.Fatal(err)
	}
	h.Peers, h.Points = []peer.ID{ps[3]}, []peerPoints{{0, st.points[ps[3]]}}
	old, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Rand = seeded(7)
	r, err := RestoreRows(cfg, old, st.rows, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lease(t0, ps[3], ""); !errors.Is(err, ErrBlocked) {
		t.Fatalf("the peer blocked in an older header: %v", err)
	}
	ch, err := r.Changes()
	if err != nil {
		t.Fatal(err)
	}
	if want := map[peer.ID]int{ps[3]: st.points[ps[3]]}; !maps.Equal(ch.Points, want) {
		t.Fatalf("the first Changes after an older header wrote points %v, want %v", ch.Points, want)
	}
}
