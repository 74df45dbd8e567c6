package scheduler

import (
	"fmt"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

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

// New peers' results refuted round after round never fail the task — free
// identities could otherwise fail any task by sending junk — up to
// maxRefutes·MaxResults of them; two established peers' refuted results
// do (the scene does not render the same on two machines).
func TestRefutesFailOnlyOnEstablishedPeers(t *testing.T) {
	// Each round, two new replicas deliver and both are refuted.
	run := func(cfg Config, rounds int) Counts {
		c := newCoord(t, cfg)
		next := 0
		for range rounds {
			for len(c.Pending()) == 0 {
				l := mustLease(t, c, t0, testPeer(t, 100+next), "")
				deliver(t, c, t0, l, fmt.Sprintf("junk %d", next))
				next++
			}
			tr := c.Pending()[0]
			if err := c.Resolve(tr.Task, job.Decision{Verdict: job.Refute, Agreeing: []int{0, 1}}); err != nil {
				t.Fatal(err)
			}
		}
		return c.Progress()
	}
	cfg := testConfig(1, 2)
	cfg.MaxResults = 5
	rounds := maxRefutes * cfg.MaxResults / 2 // 14 refuted results
	if got := run(cfg, rounds); got.Failed != 0 || got.Queued != 1 {
		t.Fatalf("after %d refuted results of new peers: %+v, want the task queued", 2*rounds, got)
	}
	if got := run(cfg, rounds+1); got.Failed != 1 {
		t.Fatalf("after %d refuted results: %+v, want the task failed", 2*rounds+2, got)
	}
	cfg.Standing = func(peer.ID) Standing { return Standing{Verified: 100, Jobs: 10, ConsecutiveValid: 100} }
	if got := run(cfg, 1); got.Failed != 1 {
		t.Fatalf("after %d refuted results of established peers: %+v, want the task failed", maxTrustedRefutes, got)
	}
}
