package scheduler

import (
	"errors"
	"slices"
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

func TestLeaseNeverGivesOnePeerTwoReplicas(t *testing.T) {
	ps := testPeers(t, 3)
	a, b, c3 := ps[0], ps[1], ps[2]
	tests := []struct {
		name string
		run  func(t *testing.T, c *Coordinator)
	}{
		{"same peer gets the next task", func(t *testing.T, c *Coordinator) {
			l1 := mustLease(t, c, t0, a, "")
			l2 := mustLease(t, c, t0, a, "")
			if l1.Task == l2.Task {
				t.Fatalf("peer got task %s twice", l1.Task)
			}
			if _, err := c.Lease(t0, a, ""); !errors.Is(err, ErrNoWork) {
				t.Fatalf("third lease for a peer that holds both tasks: %v, want ErrNoWork", err)
			}
			if l := mustLease(t, c, t0, b, ""); l.Task != l1.Task {
				t.Fatalf("second peer got %s, want the first task %s", l.Task, l1.Task)
			}
		}},
		{"not after an expiry", func(t *testing.T, c *Coordinator) {
			mustLease(t, c, t0, a, "")
			mustLease(t, c, t0, a, "")
			later := t0.Add(ttl)
			if got := c.Expire(later); len(got) != 2 {
				t.Fatalf("Expire returned %d leases, want 2", len(got))
			}
			if _, err := c.Lease(later, a, ""); !errors.Is(err, ErrNoWork) {
				t.Fatalf("peer whose leases expired asked again: %v, want ErrNoWork", err)
			}
			for _, p := range []peer.ID{b, c3} {
				mustLease(t, c, later, p, "")
			}
		}},
		{"not after a hand-back", func(t *testing.T, c *Coordinator) {
			l := mustLease(t, c, t0, a, "")
			if err := c.Release(t0, l.ID, a); err != nil {
				t.Fatal(err)
			}
			if l2 := mustLease(t, c, t0, a, ""); l2.Task == l.Task {
				t.Fatal("task handed back by a peer was leased to it again")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newCoord(t, testConfig(2, 3)))
		})
	}
}

func TestPrefixSpreading(t *testing.T) {
	ps := testPeers(t, 4)
	type ask struct {
		peer   int
		prefix string
		frame  int // 0: want ErrNoWork
	}
	tests := []struct {
		name     string
		frames   int
		replicas int
		asks     []ask
	}{
		{"replicas spread over two prefixes", 2, 3, []ask{
			{0, "10.1", 1}, {1, "10.2", 1},
			{2, "10.2", 2}, // frame 1 already has 10.2; 10.1 peers are around
			{3, "10.1", 2}, // frame 1 has 10.1, frame 2 only 10.2
		}},
		{"one prefix only does not stall", 2, 2, []ask{
			{0, "10.1", 1}, {1, "10.1", 1}, {2, "10.1", 2},
		}},
		{"private peers share the empty prefix", 2, 2, []ask{
			{0, "", 1}, {1, "", 1}, {2, "", 2},
		}},
		{"falls back when every task has the prefix", 1, 4, []ask{
			{0, "10.1", 1}, {1, "10.2", 1}, {2, "10.2", 1}, {3, "10.1", 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCoord(t, testConfig(tt.frames, tt.replicas))
			for i, a := range tt.asks {
				l, err := c.Lease(t0, ps[a.peer], a.prefix)
				if err != nil {
					t.Fatalf("ask %d: %v", i, err)
				}
				if l.Task.Frame != a.frame {
					t.Fatalf("ask %d (prefix %q) got frame %d, want %d", i, a.prefix, l.Task.Frame, a.frame)
				}
			}
		})
	}
	t.Run("another prefix seen long ago does not count", func(t *testing.T) {
		c := newCoord(t, testConfig(2, 2))
		mustLease(t, c, t0, ps[0], "10.2")
		later := t0.Add(ttl / 2)
		mustLease(t, c, later, ps[1], "10.1") // frame 1, no conflict
		muchLater := t0.Add(ttl + time.Minute)
		c.Expire(muchLater)
		l := mustLease(t, c, muchLater, ps[2], "10.1")
		if l.Task.Frame != 1 {
			t.Fatalf("got frame %d, want 1: the other prefix was last seen over a TTL ago", l.Task.Frame)
		}
	})
}

func TestWorkOrder(t *testing.T) {
	p := testPeers(t, 4)
	j := testJob("job")
	tasks := tasksOf(j, 3, 2)
	slices.Reverse(tasks)
	c := newCoord(t, strict(Config{Job: j, Tasks: tasks, Replicas: 2, LeaseTTL: ttl, Rand: seeded(2)}))
	var got []job.Task
	for range 3 {
		got = append(got, mustLease(t, c, t0, p[0], "").Task, mustLease(t, c, t0, p[1], "").Task)
	}
	want := []job.Task{
		{Job: j, Frame: 1, Tile: 0}, {Job: j, Frame: 1, Tile: 0},
		{Job: j, Frame: 1, Tile: 1}, {Job: j, Frame: 1, Tile: 1},
		{Job: j, Frame: 2, Tile: 0}, {Job: j, Frame: 2, Tile: 0},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("lease order %v, want %v", got, want)
	}
	// Frame 1 tile 0 comes back: its replica goes before anything newer.
	l := mustLease(t, c, t0, p[2], "")
	if l.Task != (job.Task{Job: j, Frame: 2, Tile: 1}) {
		t.Fatalf("got %s, want frame 2 tile 1", l.Task)
	}
	c2 := newCoord(t, strict(Config{Job: j, Tasks: tasks, Replicas: 2, LeaseTTL: ttl, Rand: seeded(2)}))
	first := mustLease(t, c2, t0, p[0], "")
	mustLease(t, c2, t0, p[1], "")                      // frame 1 tile 0, second replica
	mustLease(t, c2, t0, p[0], "")                      // frame 1 tile 1
	if err := c2.Fail(t0, first.ID, p[0]); err != nil { // frame 1 tile 0 requeued
		t.Fatal(err)
	}
	if l := mustLease(t, c2, t0, p[2], ""); l.Task != first.Task {
		t.Fatalf("after a requeue got %s, want the earlier %s", l.Task, first.Task)
	}
}
