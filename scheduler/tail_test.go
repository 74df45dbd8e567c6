package scheduler

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// tailConfig is an adaptive job of frames one-minute frames (four on a slow
// machine) for established volunteers.
func tailConfig(frames int) Config {
	cfg := testConfig(frames, 1)
	cfg.Standing = func(peer.ID) Standing { return Standing{Verified: 100, Jobs: 10, ConsecutiveValid: 1000} }
	cfg.RenderTime = 4 * time.Minute
	cfg.MaxLease = 3 * time.Hour
	return cfg
}

// Once a job drains, a volunteer that says it is four times slower than
// the reference machine is left without its last frames: the eight twice
// as fast that render it now finish them all in 45 s, before it would
// finish one. A volunteer that said nothing, and a slow one while the job
// has plenty left, get a frame, and so does a slow one for a task the fast
// ones have tried.
func TestLastTasksGoToFasterPeers(t *testing.T) {
	ps := testPeers(t, 11)
	fast, slow, quiet := ps[:8], ps[8], ps[9]
	c := newCoord(t, tailConfig(12))
	for _, p := range fast {
		c.NoteSpeed(p, 2)
		mustLease(t, c, t0, p, "")
	}
	c.NoteSpeed(slow, 0.25)
	later := t0.Add(2 * time.Second)
	if l, err := c.Lease(later, slow, ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("the slow volunteer at the job's end: %+v, %v; want ErrNoWork", l, err)
	}
	if _, err := c.Lease(later, quiet, ""); err != nil {
		t.Fatalf("a volunteer that said no speed: %v; want a frame", err)
	}
	if _, err := c.LeaseBackup(later, slow, ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("the slow volunteer asking for a backup: %v; want ErrNoWork", err)
	}

	long := newCoord(t, tailConfig(200))
	for _, p := range fast {
		long.NoteSpeed(p, 2)
		mustLease(t, long, t0, p, "")
	}
	long.NoteSpeed(slow, 0.25)
	if _, err := long.Lease(later, slow, ""); err != nil {
		t.Fatalf("the slow volunteer while 192 frames wait: %v; want a frame", err)
	}
	// The second replica of a task the fast one holds goes to the slow
	// one all the same: the fast one may not render it twice.
	cfg := tailConfig(1)
	cfg.Replicas = 2
	pair := newCoord(t, cfg)
	pair.NoteSpeed(fast[0], 2)
	pair.NoteSpeed(slow, 0.25)
	first := mustLease(t, pair, t0, fast[0], "")
	if l, err := pair.Lease(later, slow, ""); err != nil || l.Task != first.Task {
		t.Fatalf("the slow volunteer and a task's second replica: %+v, %v; want %s", l, err, first.Task)
	}
	// Claims out of range are ignored.
	for _, s := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		long.NoteSpeed(quiet, s)
	}
	if _, said := long.speeds[quiet]; said {
		t.Errorf("an out-of-range speed was kept: %v", long.speeds[quiet])
	}
}

// At a job's end, work on a task tried already (here the bands of a split
// second render) waits for the faster of the idle peers: a volunteer that
// says it is four times slower than the reference machine gets nothing
// while four twice as fast asked for work lately, and they get the four
// bands. The wait is bounded: tailWait later the slow one is served.
func TestTriedTasksWaitForFasterIdlePeers(t *testing.T) {
	ps := testPeers(t, 6)
	owner, fast, slow := ps[0], ps[1:5], ps[5]
	idle := func(c *Coordinator) {
		for _, p := range fast {
			c.NoteSpeed(p, 2)
			if _, err := c.Lease(t0.Add(58*time.Second), p, ""); !errors.Is(err, ErrNoWork) {
				t.Fatalf("a fast peer while frame 1 renders: %v, want ErrNoWork", err)
			}
		}
		c.NoteSpeed(slow, 0.25)
	}
	committed := t0.Add(time.Minute)
	split := func(seed byte) Config { return splitConfig(1, seed) }
	c, _ := replicated(t, owner, committed, split, idle)
	for _, s := range []time.Duration{2, 10, 21} {
		if l, err := c.Lease(committed.Add(s*time.Second), slow, ""); !errors.Is(err, ErrNoWork) {
			t.Fatalf("the slow peer %v after the commitment: %+v, %v; want ErrNoWork", s*time.Second, l, err)
		}
	}
	for _, p := range fast {
		if l, err := c.Lease(committed.Add(22*time.Second), p, ""); err != nil || l.Crop.Empty() {
			t.Fatalf("a fast idle peer: %+v, %v; want a band", l, err)
		}
	}

	// Nobody faster comes back within tailWait: the slow one gets a band.
	c, _ = replicated(t, owner, committed, split, idle)
	if _, err := c.Lease(committed.Add(2*time.Second), slow, ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("the slow peer: %v, want ErrNoWork", err)
	}
	if l, err := c.Lease(committed.Add(2*time.Second+tailWait), slow, ""); err != nil || l.Crop.Empty() {
		t.Fatalf("the slow peer tailWait later: %+v, %v; want a band", l, err)
	}
}

// Peers told there is no work are remembered for idleWindow only: a job
// asked by endless identities forgets the stale ones as it goes.
func TestIdlePeersForgotten(t *testing.T) {
	ps := testPeers(t, 4001)
	c := newCoord(t, tailConfig(1))
	mustLease(t, c, t0, ps[0], "")
	for i, p := range ps[1:] {
		at := t0
		if i >= 2000 {
			at = t0.Add(time.Minute)
		}
		if _, err := c.Lease(at, p, ""); !errors.Is(err, ErrNoWork) {
			t.Fatalf("peer %d: %v, want ErrNoWork", i, err)
		}
	}
	if n := len(c.idle); n > 2100 {
		t.Errorf("%d idle peers remembered after 2,000 asked a minute ago and 2,000 now", n)
	}
}
