package scheduler

import (
	"errors"
	"image"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/job"
)

// checkCrop is the crop the tests' Check chooses.
var checkCrop = image.Rect(1, 2, 5, 4)

// checkConfig is an adaptive job of frames whose volunteers are all
// established (replication odds 5 %), with check replicas on checkCrop.
func checkConfig(frames int, seed byte) Config {
	cfg := testConfig(frames, 1)
	cfg.Standing = func(peer.ID) Standing { return Standing{Verified: 100, Jobs: 10, ConsecutiveValid: 1000} }
	cfg.Check = func(job.Task) image.Rectangle { return checkCrop }
	cfg.Rand = seeded(seed)
	return cfg
}

// checked returns a coordinator whose frame 1 was rendered and delivered
// by ps[0] and whose coin chose a check replica over a second render: the
// first seed that does.
func checked(t *testing.T, ps []peer.ID, frames int) (*Coordinator, Config) {
	t.Helper()
	for seed := range byte(50) {
		cfg := checkConfig(frames, seed)
		c := newCoord(t, cfg)
		deliver(t, c, t0, mustLease(t, c, t0, ps[0], ""), "whole")
		c.mu.Lock()
		crop := c.tasks[0].crop
		c.mu.Unlock()
		if !crop.Empty() {
			return c, cfg
		}
	}
	t.Fatal("no seed chose a check replica at odds 5 %")
	return nil, Config{}
}

// An established volunteer's unreplicated result is not decided alone: once
// it committed, another peer gets a check replica — the crop chosen then —
// and the task is decided on both, the crop's peer among the agreeing
// ones. The decision cannot name a crop as the canonical result, and a
// restart keeps who checked what.
func TestCheckReplica(t *testing.T) {
	ps := testPeers(t, 3)
	c, cfg := checked(t, ps, 1)
	if p := c.Pending(); len(p) != 0 {
		t.Fatalf("the result is pending before any check: %+v", p)
	}
	if _, err := c.Lease(t0, ps[0], ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("the renderer got its own check: %v", err)
	}
	l := mustLease(t, c, t0, ps[1], "")
	if l.Crop != checkCrop {
		t.Fatalf("second lease has crop %v, want the check's %v", l.Crop, checkCrop)
	}
	if _, err := c.Lease(t0, ps[2], ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("a second check went out: %v", err)
	}
	deliver(t, c, t0, l, "crop")
	p := c.Pending()
	if len(p) != 1 || len(p[0].Results) != 2 || !p[0].Results[0].Crop.Empty() || p[0].Results[1].Crop != checkCrop || p[0].SelfCheck {
		t.Fatalf("pending %+v, want the whole result then the check", p)
	}
	wantErr(t, c.Resolve(frameTask(1), job.Decision{Verdict: job.Accept, Canonical: 1, Agreeing: []int{0, 1}}), ErrBadDecision)
	if err := c.Resolve(frameTask(1), job.Decision{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0, 1}}); err != nil {
		t.Fatal(err)
	}
	res, agreeing, ok := c.Accepted(frameTask(1))
	if !ok || res != result("whole") || len(agreeing) != 2 {
		t.Fatalf("accepted %v %v %v", res, agreeing, ok)
	}
	crop, checkers := c.Checked(frameTask(1))
	if crop != checkCrop || len(checkers) != 1 || checkers[0] != ps[1] {
		t.Fatalf("checked %v by %v, want %v by %s", crop, checkers, checkCrop, ps[1])
	}
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Restore(cfg, snap, t0)
	if err != nil {
		t.Fatal(err)
	}
	if crop, checkers := r.Checked(frameTask(1)); crop != checkCrop || len(checkers) != 1 || checkers[0] != ps[1] {
		t.Fatalf("after a restart: checked %v by %v", crop, checkers)
	}
}

// A check replica whose peer vanishes goes to another peer, on the same
// crop; one refuted (its crop disagreed, and the publisher's own render
// sided with the result) is replaced the same way.
func TestCheckReplicaReissued(t *testing.T) {
	ps := testPeers(t, 4)
	c, _ := checked(t, ps, 1)
	if l := mustLease(t, c, t0, ps[1], ""); l.Crop != checkCrop {
		t.Fatalf("check lease has crop %v", l.Crop)
	}
	later := t0.Add(ttl) // ps[1] never commits
	l2 := mustLease(t, c, later, ps[2], "")
	if l2.Crop != checkCrop {
		t.Fatalf("after the check lease lapsed the next lease has crop %v, want %v", l2.Crop, checkCrop)
	}
	deliver(t, c, later, l2, "wrong crop")
	if err := c.Resolve(frameTask(1), job.Decision{Verdict: job.Refute, Canonical: -1, Agreeing: []int{1}}); err != nil {
		t.Fatal(err)
	}
	l3 := mustLease(t, c, later, ps[3], "")
	if l3.Crop != checkCrop {
		t.Fatalf("after a refuted check the next lease has crop %v, want %v", l3.Crop, checkCrop)
	}
}

// With nobody else asking for work, a task does not wait for its check
// replica forever: after CheckWait the publisher checks the result itself
// (SelfCheck) and it is decided alone.
func TestCheckWaitFallsBackToPublisher(t *testing.T) {
	ps := testPeers(t, 1)
	c, _ := checked(t, ps, 2)
	if _, err := c.Lease(t0.Add(DefaultCheckWait-time.Second), ps[0], ""); err != nil {
		t.Fatal(err) // frame 2
	}
	if p := c.Pending(); len(p) != 0 {
		t.Fatalf("pending before CheckWait: %+v", p)
	}
	c.Expire(t0.Add(DefaultCheckWait))
	p := c.Pending()
	if len(p) != 1 || !p[0].SelfCheck || p[0].Quorum != 1 || len(p[0].Results) != 1 {
		t.Fatalf("pending after CheckWait %+v, want frame 1 alone for the publisher to check", p)
	}
	if err := c.Resolve(frameTask(1), job.Decision{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0}}); err != nil {
		t.Fatal(err)
	}
}

// A peer caught cheating loses the results it rendered that only a crop
// checked (Reopen); the peer that checked them loses nothing by that.
func TestReopenCheckedResults(t *testing.T) {
	ps := testPeers(t, 2)
	c, _ := checked(t, ps, 2) // frame 2 keeps the job running
	deliver(t, c, t0, mustLease(t, c, t0, ps[1], ""), "crop")
	if err := c.Resolve(frameTask(1), job.Decision{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0, 1}}); err != nil {
		t.Fatal(err)
	}
	if got := c.Reopen(t0, ps[1]); len(got) != 0 {
		t.Fatalf("reopened %v for the checker", got)
	}
	if got := c.Reopen(t0, ps[0]); len(got) != 1 {
		t.Fatalf("reopened %v for the renderer, want frame 1", got)
	}
}
