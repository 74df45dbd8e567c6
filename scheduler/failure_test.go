package scheduler

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/job"
)

// A task whose render fails on MaxRenderFailures distinct established peers
// is given up (the scene is at fault); a release, an expiry or a single
// failure is not enough; the state survives a snapshot.
func TestRenderFailuresFailTheTask(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	p := testPeers(t, 4)
	cfg := testConfig(2, 2)
	cfg.Standing = func(peer.ID) Standing { return Standing{Verified: 100, Jobs: 10, ConsecutiveValid: 100} }
	c := newCoord(t, cfg)

	l := mustLease(t, c, t0, p[0], "")
	if err := c.Release(t0, l.ID, p[0]); err != nil {
		t.Fatal(err)
	}
	l = mustLease(t, c, t0, p[1], "")
	if err := c.Fail(t0, l.ID, p[1]); err != nil {
		t.Fatal(err)
	}
	if st := c.StatesInOrder()[0]; st != TaskQueued {
		t.Fatalf("after a release and one failure frame 1 is %s; want queued", st)
	}
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Restore(cfg, snap, t0)
	if err != nil {
		t.Fatal(err)
	}
	l = mustLease(t, c2, t0, p[2], "")
	if l.Task != frameTask(1) {
		t.Fatalf("leased %v; want frame 1 again", l.Task)
	}
	if err := c2.Fail(t0, l.ID, p[2]); err != nil {
		t.Fatal(err)
	}
	if st := c2.StatesInOrder()[0]; st != TaskFailed {
		t.Fatalf("after two peers failed it, frame 1 is %s; want failed", st)
	}
	if n := c2.Progress(); n.Failed != 1 || n.Queued != 1 {
		t.Fatalf("progress = %+v; want 1 failed, 1 queued", n)
	}
	// The next lease goes to frame 2.
	if l := mustLease(t, c2, t0, p[3], ""); l.Task != frameTask(2) {
		t.Fatalf("leased %v after frame 1 failed; want frame 2", l.Task)
	}
}

// New peers cannot fail a task, or its dependants, however many of them
// report it failing: the task becomes a suspect for the publisher to
// render itself, and fails only if that fails too.
func TestNewPeersCannotFailATask(t *testing.T) {
	p := testPeers(t, 6)
	cfg := testConfig(2, 2)
	cfg.Depends = map[job.Task][]job.Task{frameTask(2): {frameTask(1)}}
	c := newCoord(t, cfg)
	if got := c.Suspects(); len(got) != 0 { // asked before, as the publisher does after every delivery
		t.Fatalf("suspects %v in a fresh job", got)
	}
	for _, v := range p[:4] {
		l := mustLease(t, c, t0, v, "")
		if l.Task != frameTask(1) {
			t.Fatalf("leased %s, want frame 1", l.Task)
		}
		if err := c.Fail(t0, l.ID, v); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.Progress(); n.Failed != 0 {
		t.Fatalf("four new peers failed the job's tasks: %+v", n)
	}
	if got := c.Suspects(); len(got) != 1 || got[0] != frameTask(1) {
		t.Fatalf("suspects %v, want frame 1", got)
	}
	if err := c.Reproduced(frameTask(1), false); err != nil {
		t.Fatal(err)
	}
	if got := c.Suspects(); len(got) != 0 {
		t.Fatalf("a reproduced task is still a suspect: %v", got)
	}
	mustLease(t, c, t0, p[4], "") // frame 1 goes on
	snap, _ := c.Snapshot()
	c2, err := Restore(cfg, snap, t0)
	if err != nil {
		t.Fatal(err)
	}
	if got := c2.Suspects(); len(got) != 0 {
		t.Fatalf("the reproduction was forgotten across a restart: %v", got)
	}
	// Had the publisher's own render failed, the task and its dependant fail.
	c3 := newCoord(t, cfg)
	for _, v := range p[:2] {
		l := mustLease(t, c3, t0, v, "")
		c3.Fail(t0, l.ID, v)
	}
	if err := c3.Reproduced(frameTask(1), true); err != nil {
		t.Fatal(err)
	}
	if n := c3.Progress(); n.Failed != 2 {
		t.Fatalf("progress %+v, want frame 1 and its dependant failed", n)
	}
}
