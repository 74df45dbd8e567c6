package scheduler

import (
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/job"
)

// sybilMeetings plays a pair of identities that ask for work back to back
// against honest volunteers asking in between, each rendering its lease
// before asking again, and counts the tasks the pair held both replicas
// of.
func sybilMeetings(t *testing.T, cfg Config) int {
	t.Helper()
	ps := testPeers(t, 8)
	pair, honest := ps[:2], ps[2:]
	c := newCoord(t, cfg)
	now := t0
	held := map[peer.ID]job.Task{}
	meetings := 0
	work := func(p peer.ID) {
		l, err := c.Lease(now, p, "")
		if errors.Is(err, ErrNoWork) || errors.Is(err, ErrJobDone) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		held[p] = l.Task
		deliver(t, c, now, l, l.Task.String())
	}
	for round := 0; round < 40 && !c.Done(); round++ {
		now = now.Add(3 * time.Second)
		work(honest[round%len(honest)])
		work(pair[0])
		work(pair[1])
		if held[pair[0]] == held[pair[1]] && held[pair[0]].Job.Defined() {
			meetings++
		}
		for _, tr := range c.Pending() {
			c.Resolve(tr.Task, job.Decision{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0, 1}})
		}
	}
	return meetings
}

// Two identities asking back to back never hold both replicas of a task:
// a task's next replica is not leased within ReplicaGap of its last while
// other work exists, and leases are drawn from a window. In strict work
// order (the old placement) they meet at every round.
func TestSybilPairNeverGetsBothReplicas(t *testing.T) {
	cfg := testConfig(200, 2)
	cfg.PickWindow, cfg.ReplicaGap = 0, 0 // the defaults
	if n := sybilMeetings(t, cfg); n != 0 {
		t.Fatalf("the pair held both replicas of %d tasks", n)
	}
	if n := sybilMeetings(t, testConfig(200, 2)); n < 15 {
		t.Fatalf("control: in strict order the pair met only %d times in 40 rounds, want about every other round", n)
	}
}

// A job of quick tasks keeps a task's replicas apart by its render time,
// at least MinReplicaGap, rather than DefaultReplicaGap: its second
// replicas are leased a second later, so that the first ones are revealed
// while the job runs, not after every task had its first. Two identities
// asking back to back still never meet.
func TestQuickTasksShortenTheReplicaGap(t *testing.T) {
	cfg := testConfig(200, 2)
	cfg.PickWindow, cfg.ReplicaGap = 0, 0 // the defaults
	cfg.RenderTime = 50 * time.Millisecond
	if n := sybilMeetings(t, cfg); n != 0 {
		t.Fatalf("the pair held both replicas of %d tasks", n)
	}
	ps := testPeers(t, 2)
	cfg.PickWindow = 1 // strict order: the second lease goes to the first task unless the gap holds it back
	c := newCoord(t, cfg)
	first := mustLease(t, c, t0, ps[0], "")
	if l := mustLease(t, c, t0.Add(MinReplicaGap/2), ps[1], ""); l.Task == first.Task {
		t.Fatalf("task %v leased again within half of MinReplicaGap", first.Task)
	}
	if l := mustLease(t, c, t0.Add(MinReplicaGap), ps[1], ""); l.Task != first.Task {
		t.Fatalf("after MinReplicaGap the second replica went to %v, not to the first task %v", l.Task, first.Task)
	}
}

// A new peer holds one lease of a job at a time, an established one a few,
// and each is told how many (Slots).
func TestLeaseCapPerPeer(t *testing.T) {
	ps := testPeers(t, 2)
	newcomer, veteran := ps[0], ps[1]
	cfg := testConfig(20, 2)
	cfg.MaxActiveNew, cfg.MaxActive = 0, 0 // the defaults
	cfg.Standing = func(p peer.ID) Standing {
		if p == veteran {
			return Standing{Verified: 100, Jobs: 10, ConsecutiveValid: 100}
		}
		return Standing{}
	}
	c := newCoord(t, cfg)
	if n, m := c.Slots(newcomer), c.Slots(veteran); n != DefaultMaxActiveNew || m != DefaultMaxActive {
		t.Fatalf("slots told: %d to a new peer, %d to an established one; want %d and %d", n, m, DefaultMaxActiveNew, DefaultMaxActive)
	}
	l := mustLease(t, c, t0, newcomer, "")
	if _, err := c.Lease(t0, newcomer, ""); !errors.Is(err, ErrBusy) {
		t.Fatalf("a new peer's second lease: %v, want ErrBusy", err)
	}
	for range DefaultMaxActive {
		mustLease(t, c, t0, veteran, "")
	}
	if _, err := c.Lease(t0, veteran, ""); !errors.Is(err, ErrBusy) {
		t.Fatalf("an established peer's lease over the cap: %v, want ErrBusy", err)
	}
	if err := c.Release(t0, l.ID, newcomer); err != nil {
		t.Fatal(err)
	}
	mustLease(t, c, t0, newcomer, "") // handed back: room for one again
}

// No replica is revealed before every replica of its task has committed or
// lost its lease; once one has committed after rendering for r, the others
// must commit within 2r + MinCommitWait.
func TestCommitThenReveal(t *testing.T) {
	ps := testPeers(t, 3)
	a, b, c3 := ps[0], ps[1], ps[2]
	cfg := testConfig(2, 2)
	cfg.MinCommitWait = 0 // the default, one minute
	c := newCoord(t, cfg)
	la, lb := mustLease(t, c, t0, a, ""), mustLease(t, c, t0, b, "")
	ra := result("frame 1")
	reveal, err := c.Commit(t0.Add(30*time.Second), la.ID, a, job.Commit(la.Salt, ra.Digest))
	if err != nil || reveal {
		t.Fatalf("first commitment: reveal %v, %v; want wait", reveal, err)
	}
	wantErr(t, c.Deliver(t0.Add(31*time.Second), la.ID, a, ra), ErrNotRevealed)
	if _, err := c.CheckDelivery(t0.Add(31*time.Second), la.ID, a, time.Minute); !errors.Is(err, ErrNotRevealed) {
		t.Fatalf("CheckDelivery before the other commitment: %v", err)
	}
	// b holds its lease without committing (a copier waiting for a's
	// result): 30 s render → it must commit by 30 s + 2·30 s + 1 min.
	deadline := t0.Add(150 * time.Second)
	if _, err := c.Renew(deadline.Add(-time.Second), lb.ID, b); err != nil {
		t.Fatalf("b's heartbeat before its commit deadline: %v", err)
	}
	if ok, _ := c.Revealed(deadline.Add(-time.Second), la.ID, a); ok {
		t.Fatal("a revealed while b still may commit")
	}
	if ok, err := c.Revealed(deadline, la.ID, a); err != nil || !ok {
		t.Fatalf("after b's commit deadline: revealed %v, %v; want a to deliver", ok, err)
	}
	if _, err := c.Renew(deadline, lb.ID, b); !errors.Is(err, ErrLeaseExpired) {
		t.Fatalf("b's lease after its commit deadline: %v, want expired", err)
	}
	if err := c.Deliver(deadline, la.ID, a, ra); err != nil {
		t.Fatal(err)
	}
	// The task wants another replica, and that one reveals as it commits.
	lc := mustLease(t, c, deadline, c3, "")
	if lc.Task != la.Task {
		t.Fatalf("replacement leased %s, want %s", lc.Task, la.Task)
	}
	if reveal, err := c.Commit(deadline.Add(time.Minute), lc.ID, c3, job.Commit(lc.Salt, ra.Digest)); err != nil || !reveal {
		t.Fatalf("the last commitment: reveal %v, %v; want deliver now", reveal, err)
	}
}

// A task whose results could not be crop-checked goes next only to an
// established peer.
func TestNeedEstablishedReplica(t *testing.T) {
	ps := testPeers(t, 4)
	veteran := ps[3]
	cfg := testConfig(1, 2)
	cfg.Standing = func(p peer.ID) Standing {
		if p == veteran {
			return Standing{Verified: 100, Jobs: 10, ConsecutiveValid: 100}
		}
		return Standing{}
	}
	c := newCoord(t, cfg)
	deliver(t, c, t0, mustLease(t, c, t0, ps[0], ""), "x")
	deliver(t, c, t0, mustLease(t, c, t0, ps[1], ""), "x")
	if err := c.Resolve(frameTask(1), job.Decision{Verdict: job.NeedReplica, Established: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lease(t0, ps[2], ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("a new peer got the replica meant for an established one: %v", err)
	}
	if l := mustLease(t, c, t0, veteran, ""); l.Task != frameTask(1) {
		t.Fatalf("the established peer got %s", l.Task)
	}
}

// A replica that commits and never delivers (a staller) holds its task
// only DeliverWindow once its task lets it deliver.
func TestStallerLosesItsLease(t *testing.T) {
	ps := testPeers(t, 3)
	cfg := testConfig(1, 2)
	cfg.DeliverWindow = 0 // the default
	c := newCoord(t, cfg)
	honest, staller := mustLease(t, c, t0, ps[0], ""), mustLease(t, c, t0, ps[1], "")
	deliver(t, c, t0, honest, "frame")
	if err := commit(c, t0, staller.ID, ps[1], job.Commit(staller.Salt, digest("frame"))); err != nil {
		t.Fatal(err)
	}
	deliver(t, c, t0, honest, "frame") // now revealed and delivered
	if _, err := c.Renew(t0.Add(DefaultDeliverWindow-time.Second), staller.ID, ps[1]); err != nil {
		t.Fatalf("within the window: %v", err)
	}
	if _, err := c.Lease(t0.Add(DefaultDeliverWindow-time.Second), ps[2], ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("the task went out again while the staller may still deliver: %v", err)
	}
	end := t0.Add(DefaultDeliverWindow)
	if _, err := c.Renew(end, staller.ID, ps[1]); !errors.Is(err, ErrLeaseExpired) {
		t.Fatalf("the staller's lease after the window: %v, want expired", err)
	}
	if l := mustLease(t, c, end, ps[2], ""); l.Task != frameTask(1) {
		t.Fatalf("replacement got %s", l.Task)
	}
}

// A cheater that commits junk at once cannot squeeze the honest replica
// out of its task: with the publisher's RenderTime set, the others get at
// least that long to commit, however fast the first commitment came.
func TestFastCommitDoesNotShortenTheDeadline(t *testing.T) {
	ps := testPeers(t, 2)
	cheater, honest := ps[0], ps[1]
	cfg := testConfig(2, 2)
	cfg.MinCommitWait = time.Minute
	cfg.RenderTime = 10 * time.Minute
	c := newCoord(t, cfg)
	lc, lh := mustLease(t, c, t0, cheater, ""), mustLease(t, c, t0, honest, "")
	junk := result("junk")
	if _, err := c.Commit(t0.Add(time.Second), lc.ID, cheater, job.Commit(lc.Salt, junk.Digest)); err != nil {
		t.Fatal(err)
	}
	// Without RenderTime the honest replica had 2·1 s + 1 min.
	late := t0.Add(8 * time.Minute)
	for now := t0.Add(10 * time.Second); now.Before(late); now = now.Add(10 * time.Second) {
		if _, err := c.Renew(now, lh.ID, honest); err != nil {
			t.Fatalf("the honest replica's lease ended %v after the cheater's commitment: %v", now.Sub(t0), err)
		}
	}
	if _, err := c.Commit(late, lh.ID, honest, job.Commit(lh.Salt, result("frame 1").Digest)); err != nil {
		t.Fatalf("the honest replica could not commit after 8 min: %v", err)
	}
	// The bound still holds: a staller is out after RenderTime + MinCommitWait.
	c2 := newCoord(t, cfg)
	l1, l2 := mustLease(t, c2, t0, cheater, ""), mustLease(t, c2, t0, honest, "")
	if _, err := c2.Commit(t0.Add(time.Second), l1.ID, cheater, job.Commit(l1.Salt, junk.Digest)); err != nil {
		t.Fatal(err)
	}
	end := t0.Add(time.Second + 11*time.Minute)
	for now := t0.Add(10 * time.Second); now.Before(end); now = now.Add(10 * time.Second) {
		c2.Renew(now, l2.ID, honest)
	}
	if _, err := c2.Renew(end, l2.ID, honest); !errors.Is(err, ErrLeaseExpired) {
		t.Fatalf("a replica that never commits still holds its lease after RenderTime + MinCommitWait: %v", err)
	}
}
