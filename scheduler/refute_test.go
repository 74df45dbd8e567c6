package scheduler

import (
	"fmt"
	"testing"

	"github.com/renderswarm/renderswarm/job"
)

// When the publisher's crop check disproves agreeing results, their peers
// are penalised and the task goes to fresh peers, never back to them.
func TestRefute(t *testing.T) {
	cfg := testConfig(1, 2)
	c := newCoord(t, cfg)
	cheats := testPeers(t, 2)
	for _, p := range cheats {
		deliver(t, c, t0, mustLease(t, c, t0, p, ""), "wrong")
	}
	pending := c.Pending()
	if len(pending) != 1 {
		t.Fatalf("pending = %d, want 1", len(pending))
	}
	if err := c.Resolve(pending[0].Task, job.Decision{Verdict: job.Refute}); err == nil {
		t.Fatal("a refute naming no results was accepted")
	}
	if err := c.Resolve(pending[0].Task, job.Decision{Verdict: job.Refute, Agreeing: []int{0, 1}}); err != nil {
		t.Fatal(err)
	}
	if got := c.Progress(); got.Verified != 0 || got.Queued != 1 {
		t.Fatalf("after refute: %+v, want the task queued again", got)
	}
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if c, err = Restore(cfg, snap, t0); err != nil {
		t.Fatalf("restoring after a refute: %v", err)
	}
	for _, p := range cheats {
		if _, err := c.Lease(t0, p, ""); err == nil {
			t.Fatalf("a refuted peer was leased the task again")
		}
	}
	for i := range 2 {
		deliver(t, c, t0, mustLease(t, c, t0, testPeer(t, 10+i), ""), "right")
	}
	pending = c.Pending()
	if len(pending) != 1 {
		t.Fatalf("after fresh results: pending = %d, want 1", len(pending))
	}
	d := job.Decision{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0, 1}}
	if err := c.Resolve(pending[0].Task, d); err != nil {
		t.Fatal(err)
	}
	if _, peers, ok := c.Accepted(pending[0].Task); !ok || len(peers) != 2 || peers[0] != testPeer(t, 10) {
		t.Fatalf("accepted %v %v, want the honest peers", peers, ok)
	}
}

// A refute drops only the disproved results: an honest result that
// disagreed with them still counts, so one fresh replica can settle it.
func TestRefuteKeepsOtherVotes(t *testing.T) {
	cfg := testConfig(1, 2)
	c := newCoord(t, cfg)
	deliver(t, c, t0, mustLease(t, c, t0, testPeer(t, 1), ""), "wrong")
	deliver(t, c, t0, mustLease(t, c, t0, testPeer(t, 2), ""), "right")
	tr := c.Pending()[0]
	if err := c.Resolve(tr.Task, job.Decision{Verdict: job.NeedReplica}); err != nil {
		t.Fatal(err)
	}
	deliver(t, c, t0, mustLease(t, c, t0, testPeer(t, 3), ""), "wrong")
	tr = c.Pending()[0]
	// Peers 1 and 3 agree (wrong) and outvote 2; the crop check refutes them.
	if err := c.Resolve(tr.Task, job.Decision{Verdict: job.Refute, Agreeing: []int{0, 2}}); err != nil {
		t.Fatal(err)
	}
	deliver(t, c, t0, mustLease(t, c, t0, testPeer(t, 4), ""), "right")
	tr = c.Pending()[0]
	if len(tr.Results) != 2 || tr.Results[0].Peer != testPeer(t, 2) {
		t.Fatalf("pending results = %+v, want peer 2's kept vote and peer 4's", tr.Results)
	}
	if err := c.Resolve(tr.Task, job.Decision{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0, 1}}); err != nil {
		t.Fatal(err)
	}
}

// Results refuted round after round, each different (junk, every cheater
// its own), never fail the task — free identities could otherwise fail
// any task — up to maxRefutes·MaxResults of them; refuted results that
// agree with each other, maxConsistentRefutes times, do (the scene renders
// differently on the publisher's machine).
func TestRefutesFailOnlyWhenConsistent(t *testing.T) {
	// Each round, two new replicas deliver and both are refuted.
	run := func(cfg Config, rounds int, consistent bool) Counts {
		c := newCoord(t, cfg)
		next := 0
		for range rounds {
			for len(c.Pending()) == 0 {
				l := mustLease(t, c, t0, testPeer(t, 100+next), "")
				deliver(t, c, t0, l, fmt.Sprintf("junk %d", next))
				next++
			}
			tr := c.Pending()[0]
			d := job.Decision{Verdict: job.Refute, Agreeing: []int{0, 1}, Consistent: consistent}
			if err := c.Resolve(tr.Task, d); err != nil {
				t.Fatal(err)
			}
		}
		return c.Progress()
	}
	cfg := testConfig(1, 2)
	cfg.MaxResults = 5
	rounds := maxRefutes * cfg.MaxResults / 2 // 14 refuted results
	if got := run(cfg, rounds, false); got.Failed != 0 || got.Queued != 1 {
		t.Fatalf("after %d refuted results, all different: %+v, want the task queued", 2*rounds, got)
	}
	if got := run(cfg, rounds+1, false); got.Failed != 1 {
		t.Fatalf("after %d refuted results: %+v, want the task failed", 2*rounds+2, got)
	}
	if got := run(cfg, maxConsistentRefutes-1, true); got.Failed != 0 {
		t.Fatalf("after one refute of agreeing results: %+v, want the task queued", got)
	}
	if got := run(cfg, maxConsistentRefutes, true); got.Failed != 1 {
		t.Fatalf("after %d refutes of agreeing results: %+v, want the task failed", maxConsistentRefutes, got)
	}
}
