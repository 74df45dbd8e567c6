package scheduler

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/job"
)

// A peer caught cheating loses the results it alone had accepted in a
// running job: those tasks want two fresh agreeing results, from others,
// also after a restart.
func TestReopenTakesBackACheatersResults(t *testing.T) {
	ps := testPeers(t, 4)
	cheater, other := ps[0], ps[1]
	cfg := testConfig(3, 1) // adaptive replication
	cfg.Standing = func(peer.ID) Standing { return Standing{Verified: 1000, Jobs: 10, ConsecutiveValid: 1000} }
	cfg.Rand = onesReader{} // the adaptive coin never asks for a second replica
	c := newCoord(t, cfg)
	accept := func(l Lease) {
		t.Helper()
		deliver(t, c, t0, l, "frame")
		for _, tr := range c.Pending() {
			var all []int
			for k := range tr.Results {
				all = append(all, k)
			}
			if err := c.Resolve(tr.Task, job.Decision{Verdict: job.Accept, Canonical: 0, Agreeing: all}); err != nil {
				t.Fatal(err)
			}
		}
	}
	l1 := mustLease(t, c, t0, cheater, "")
	accept(l1)
	l2 := mustLease(t, c, t0, other, "")
	accept(l2)
	if got := c.Progress(); got.Verified != 2 {
		t.Fatalf("%+v, want two tasks accepted on one result each", got)
	}
	reopened := c.Reopen(t0, cheater)
	if len(reopened) != 1 || reopened[0] != l1.Task {
		t.Fatalf("reopened %v, want only the cheater's %s", reopened, l1.Task)
	}
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if c, err = Restore(cfg, snap, t0); err != nil {
		t.Fatalf("restoring after a reopen: %v", err)
	}
	if got := c.Progress(); got.Verified != 1 || got.Queued != 2 {
		t.Fatalf("after reopening: %+v, want one verified and two queued", got)
	}
	for range 3 {
		if l, err := c.Lease(t0, cheater, ""); err == nil && l.Task == l1.Task {
			t.Fatalf("the cheater was leased its reopened task again")
		}
	}
	a := mustLeaseTask(t, c, ps[2], l1.Task)
	b := mustLeaseTask(t, c, ps[3], l1.Task)
	deliver(t, c, t0, a, "right")
	if len(c.Pending()) != 0 {
		t.Fatal("one fresh result decides the reopened task; want a quorum of two")
	}
	deliver(t, c, t0, b, "right")
	if len(c.Pending()) != 1 {
		t.Fatal("two fresh results did not make the reopened task pending")
	}
	if again := c.Reopen(t0, other); len(again) != 1 {
		t.Fatalf("reopened %d of the other peer's tasks, want 1", len(again))
	}
}

// mustLeaseTask leases to p until it gets task tk (other tasks it gets are
// released).
func mustLeaseTask(t *testing.T, c *Coordinator, p peer.ID, tk job.Task) Lease {
	t.Helper()
	for range 10 {
		l := mustLease(t, c, t0, p, "")
		if l.Task == tk {
			return l
		}
		if err := c.Release(t0, l.ID, p); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("%s never got %s", p, tk)
	return Lease{}
}

// onesReader reads as 0xff bytes.
type onesReader struct{}

func (onesReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0xff
	}
	return len(p), nil
}
