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
// finish one, and so is it from a frame whose render was lost. A volunteer
// that said nothing, and a slow one while the job has plenty left, get a
// frame, and so does a slow one for a task the fast ones have tried.
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
	lost, err := c.Lease(later, quiet, "")
	if err != nil {
		t.Fatalf("a volunteer that said no speed: %v; want a frame", err)
	}
	if _, err := c.LeaseBackup(later, slow, ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("the slow volunteer asking for a backup: %v; want ErrNoWork", err)
	}
	// A task whose only render was lost (its volunteer left, or handed it
	// back) is as good as untried: the slow volunteer, idle because it was
	// left out, would otherwise take every such task at a job's end.
	if err := c.Release(later, lost.ID, quiet); err != nil {
		t.Fatal(err)
	}
	again := later.Add(drainEvery)
	if l, err := c.Lease(again, slow, ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("the slow volunteer and a task handed back: %+v, %v; want ErrNoWork", l, err)
	}
	if l, err := c.Lease(again, ps[10], ""); err != nil || l.Task != lost.Task {
		t.Fatalf("another volunteer and a task handed back: %+v, %v; want %s", l, err, lost.Task)
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
