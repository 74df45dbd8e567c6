package scheduler

import (
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/job"
)

func TestCommitAndDeliver(t *testing.T) {
	ps := testPeers(t, 2)
	a, b := ps[0], ps[1]
	good := result("frame 1")
	tests := []struct {
		name string
		run  func(c *Coordinator, l Lease) error
		want error
		// requeued: the lease is closed and the task goes to another peer.
		requeued bool
	}{
		{"commit then deliver", func(c *Coordinator, l Lease) error {
			if err := commit(c, t0, l.ID, a, job.Commit(l.Salt, good.Digest)); err != nil {
				return err
			}
			return c.Deliver(t0, l.ID, a, good)
		}, nil, false},
		{"deliver without commit", func(c *Coordinator, l Lease) error {
			return c.Deliver(t0, l.ID, a, good)
		}, ErrNotCommitted, false},
		{"digest does not open the commitment", func(c *Coordinator, l Lease) error {
			if err := commit(c, t0, l.ID, a, job.Commit(l.Salt, digest("something else"))); err != nil {
				return err
			}
			return c.Deliver(t0, l.ID, a, good)
		}, ErrCommitmentMismatch, true},
		{"commitment under another replica's salt", func(c *Coordinator, l Lease) error {
			var other job.Salt
			other[0] = 1
			if err := commit(c, t0, l.ID, a, job.Commit(other, good.Digest)); err != nil {
				return err
			}
			return c.Deliver(t0, l.ID, a, good)
		}, ErrCommitmentMismatch, true},
		{"delivered by another peer", func(c *Coordinator, l Lease) error {
			if err := commit(c, t0, l.ID, a, job.Commit(l.Salt, good.Digest)); err != nil {
				return err
			}
			return c.Deliver(t0, l.ID, b, good)
		}, ErrWrongPeer, false},
		{"committed by another peer", func(c *Coordinator, l Lease) error {
			return commit(c, t0, l.ID, b, job.Commit(l.Salt, good.Digest))
		}, ErrWrongPeer, false},
		{"unknown lease", func(c *Coordinator, l Lease) error {
			return c.Deliver(t0, l.ID+"x", a, good)
		}, ErrUnknownLease, false},
		{"after expiry", func(c *Coordinator, l Lease) error {
			if err := commit(c, t0, l.ID, a, job.Commit(l.Salt, good.Digest)); err != nil {
				return err
			}
			return c.Deliver(l.Expires, l.ID, a, good)
		}, ErrLeaseExpired, true},
		{"second, different commitment", func(c *Coordinator, l Lease) error {
			if err := commit(c, t0, l.ID, a, job.Commit(l.Salt, good.Digest)); err != nil {
				return err
			}
			return commit(c, t0, l.ID, a, job.Commit(l.Salt, digest("changed my mind")))
		}, ErrAlreadyCommitted, false},
		{"same result twice", func(c *Coordinator, l Lease) error {
			if err := commit(c, t0, l.ID, a, job.Commit(l.Salt, good.Digest)); err != nil {
				return err
			}
			if err := c.Deliver(t0, l.ID, a, good); err != nil {
				return err
			}
			return c.Deliver(t0.Add(time.Second), l.ID, a, good)
		}, nil, false},
		{"result without an asset CID", func(c *Coordinator, l Lease) error {
			if err := commit(c, t0, l.ID, a, job.Commit(l.Salt, good.Digest)); err != nil {
				return err
			}
			return c.Deliver(t0, l.ID, a, Result{CID: cid.Undef, Digest: good.Digest})
		}, ErrBadResult, false},
		{"fail after delivering", func(c *Coordinator, l Lease) error {
			if err := commit(c, t0, l.ID, a, job.Commit(l.Salt, good.Digest)); err != nil {
				return err
			}
			if err := c.Deliver(t0, l.ID, a, good); err != nil {
				return err
			}
			return c.Fail(t0, l.ID, a)
		}, ErrLeaseClosed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(1, 2)
			cfg.MaxFailures = 1
			c := newCoord(t, cfg)
			l := mustLease(t, c, t0, a, "")
			err := tt.run(c, l)
			if tt.want == nil && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			wantErr(t, err, tt.want)
			// Any peer but a may take the other replica; a third peer
			// only when a's lease was closed and requeued.
			now := t0
			mustLease(t, c, now, b, "")
			_, err = c.Lease(now, testPeer(t, 99), "")
			if got := err == nil; got != tt.requeued {
				t.Fatalf("third peer got work: %v, want %v (lease requeued)", got, tt.requeued)
			}
			if got := c.Blocked(a); got != tt.requeued {
				t.Fatalf("peer a blocked (MaxFailures 1): %v, want %v", got, tt.requeued)
			}
		})
	}
}

// resolveSetup leases one task with Replicas 2 to a and b, delivers their
// results and returns the coordinator.
func resolveSetup(t *testing.T, ps []peer.ID, ra, rb string) (*Coordinator, []Lease) {
	t.Helper()
	cfg := testConfig(1, 2)
	cfg.MaxFailures = 1 // one charged failure blocks: makes penalties visible
	c := newCoord(t, cfg)
	var ls []Lease
	for i, s := range []string{ra, rb} {
		l := mustLease(t, c, t0, ps[i], "")
		deliver(t, c, t0, l, s)
		ls = append(ls, l)
	}
	return c, ls
}

func TestTwoOfThree(t *testing.T) {
	ps := testPeers(t, 4)
	a, b, cp := ps[0], ps[1], ps[2]
	c, _ := resolveSetup(t, ps, "honest", "cheat")
	pend := c.Pending()
	if len(pend) != 1 || len(pend[0].Results) != 2 || pend[0].Quorum != 2 || pend[0].MaxResults != 5 {
		t.Fatalf("pending %+v, want one task with 2 results, quorum 2, max 5", pend)
	}
	if pend[0].Results[0].Peer != a || pend[0].Results[1].Result != result("cheat") {
		t.Fatalf("results out of delivery order: %+v", pend[0].Results)
	}
	// The two disagree: nobody is charged, a third replica goes out.
	if err := c.Resolve(frameTask(1), job.Decision{Verdict: job.NeedReplica}); err != nil {
		t.Fatal(err)
	}
	if c.Blocked(a) || c.Blocked(b) {
		t.Fatal("a mismatch alone charged a peer")
	}
	if len(c.Pending()) != 0 {
		t.Fatal("task still pending after NeedReplica")
	}
	for _, p := range []peer.ID{a, b} {
		if _, err := c.Lease(t0, p, ""); err == nil {
			t.Fatal("third replica offered to a peer that already rendered the task")
		}
	}
	l := mustLease(t, c, t0, cp, "")
	deliver(t, c, t0, l, "honest")
	pend = c.Pending()
	if len(pend) != 1 || len(pend[0].Results) != 3 {
		t.Fatalf("pending %+v, want 3 results", pend)
	}
	bad := []job.Decision{
		{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0}, Losers: []int{1}},    // below quorum
		{Verdict: job.Accept, Canonical: 1, Agreeing: []int{0, 2}, Losers: []int{1}}, // canonical not agreeing
		{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0, 2}, Losers: []int{2}}, // loser also agrees
		{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0, 3}},                   // out of range
		{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0, 0}},                   // repeated
		{Verdict: job.Verdict(42)}, // unknown
	}
	for _, d := range bad {
		wantErr(t, c.Resolve(frameTask(1), d), ErrBadDecision)
	}
	if err := c.Resolve(frameTask(1), job.Decision{Verdict: job.Accept, Canonical: 2, Agreeing: []int{2, 0}, Losers: []int{1}}); err != nil {
		t.Fatal(err)
	}
	res, agreeing, ok := c.Accepted(frameTask(1))
	if !ok || res != result("honest") || !slices.Equal(agreeing, []peer.ID{a, cp}) {
		t.Fatalf("Accepted = %v %v %v, want the honest result by a and c", res, agreeing, ok)
	}
	if !c.Blocked(b) || c.Blocked(a) || c.Blocked(cp) {
		t.Fatalf("blocked a=%v b=%v c=%v: only the loser b must be charged", c.Blocked(a), c.Blocked(b), c.Blocked(cp))
	}
	if !c.Done() || c.State() != StateCompleted || c.Progress() != (Counts{Total: 1, Verified: 1}) {
		t.Fatalf("done %v, state %s, progress %+v", c.Done(), c.State(), c.Progress())
	}
	wantErr(t, c.Resolve(frameTask(1), job.Decision{Verdict: job.Accept}), ErrNotPending)
}

func TestLosersNeedAMajority(t *testing.T) {
	ps := testPeers(t, 2)
	c, _ := resolveSetup(t, ps, "x", "y")
	// Two results, one "agreeing" with the canonical: not a strict majority,
	// so nobody may be charged. (Quorum 2 also refuses it.)
	wantErr(t, c.Resolve(frameTask(1), job.Decision{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0}, Losers: []int{1}}), ErrBadDecision)
	if c.Blocked(ps[1]) {
		t.Fatal("refused decision charged a peer")
	}
	// With quorum 1 (adaptive, unreplicated) an Accept with losers out of
	// two results is equally refused.
	if err := checkAccept(job.Decision{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0}, Losers: []int{1}}, 2, 1); err == nil {
		t.Fatal("losers accepted without a majority")
	}
}

func TestGiveUpAfterMaxResults(t *testing.T) {
	ps := testPeers(t, 6)
	cfg := testConfig(1, 2)
	c := newCoord(t, cfg)
	for i := range 5 {
		l := mustLease(t, c, t0, ps[i], "")
		deliver(t, c, t0, l, string(rune('a'+i))) // all different
		if i == 0 {
			continue
		}
		if err := c.Resolve(frameTask(1), job.Decision{Verdict: job.NeedReplica}); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.Progress(); n.Failed != 1 || c.State() != StateFailed {
		t.Fatalf("after 5 disagreeing results: progress %+v, state %s; want failed", n, c.State())
	}
	if _, err := c.Lease(t0, ps[5], ""); err == nil {
		t.Fatal("failed task leased again")
	}
	for _, p := range ps[:5] {
		if c.Blocked(p) {
			t.Fatal("a peer was charged for disagreement alone")
		}
	}
}

func TestCreditedFlags(t *testing.T) {
	ps := testPeers(t, 2)
	c, _ := resolveSetup(t, ps, "x", "x")
	wantErr(t, c.MarkCredited(frameTask(1)), ErrNotAccepted)
	wantErr(t, c.MarkCredited(frameTask(9)), ErrUnknownTask)
	if err := c.Resolve(frameTask(1), job.Decision{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0, 1}}); err != nil {
		t.Fatal(err)
	}
	if got := c.Uncredited(); !slices.Equal(got, []job.Task{frameTask(1)}) {
		t.Fatalf("Uncredited = %v", got)
	}
	if err := c.MarkCredited(frameTask(1)); err != nil {
		t.Fatal(err)
	}
	if !c.Credited(frameTask(1)) || len(c.Uncredited()) != 0 {
		t.Fatal("credited flag not kept")
	}
}

func TestAdaptiveUnreplicatedAcceptsOne(t *testing.T) {
	ps := testPeers(t, 2)
	cfg := testConfig(1, 1)
	cfg.Standing = func(peer.ID) Standing { return Standing{Verified: 100, Jobs: 10, ConsecutiveValid: 1000} }
	cfg.Rand = seeded(3)
	// Find a seed whose coin says "no replica" (odds 5 %): the task is
	// pending on its first result.
	for seed := range byte(50) {
		cfg.Rand = seeded(seed)
		c := newCoord(t, cfg)
		l := mustLease(t, c, t0, ps[0], "")
		deliver(t, c, t0, l, "only")
		pend := c.Pending()
		if len(pend) == 0 {
			continue // the coin asked for a second replica
		}
		if len(pend) != 1 || pend[0].Quorum != 1 {
			t.Fatalf("pending %+v, want quorum 1", pend)
		}
		// A constant image makes the node ask for a replica anyway.
		if err := c.Resolve(frameTask(1), job.Decision{Verdict: job.NeedReplica}); err != nil {
			t.Fatal(err)
		}
		l2 := mustLease(t, c, t0, ps[1], "")
		deliver(t, c, t0, l2, "only")
		if pend := c.Pending(); len(pend) != 1 || pend[0].Quorum != 2 {
			t.Fatalf("after NeedReplica pending %+v, want quorum 2", pend)
		}
		return
	}
	t.Fatal("no seed left the task unreplicated at odds 5 %")
}
