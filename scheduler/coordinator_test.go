package scheduler

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/job"
)

func TestNewRejectsBadConfig(t *testing.T) {
	j := testJob("job")
	other := testJob("other")
	good := func() Config { return Config{Job: j, Tasks: tasksOf(j, 3, 1), Replicas: 2, LeaseTTL: ttl} }
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"undefined job", func(c *Config) { c.Job = job.AssetCID([20]byte{1}) }},
		{"no tasks", func(c *Config) { c.Tasks = nil }},
		{"zero replicas", func(c *Config) { c.Replicas = 0 }},
		{"too many replicas", func(c *Config) { c.Replicas = job.MaxReplicas + 1 }},
		{"no lease TTL", func(c *Config) { c.LeaseTTL = 0 }},
		{"negative max failures", func(c *Config) { c.MaxFailures = -1 }},
		{"max results not above replicas", func(c *Config) { c.MaxResults = 2 }},
		{"task of another job", func(c *Config) { c.Tasks[1].Job = other }},
		{"duplicate task", func(c *Config) { c.Tasks = append(c.Tasks, c.Tasks[0]) }},
		{"dependency on unknown task", func(c *Config) {
			c.Depends = map[job.Task][]job.Task{c.Tasks[0]: {{Job: j, Frame: 99}}}
		}},
		{"dependency cycle", func(c *Config) {
			c.Depends = map[job.Task][]job.Task{c.Tasks[0]: {c.Tasks[1]}, c.Tasks[1]: {c.Tasks[2]}, c.Tasks[2]: {c.Tasks[0]}}
		}},
		{"self dependency", func(c *Config) { c.Depends = map[job.Task][]job.Task{c.Tasks[0]: {c.Tasks[0]}} }},
		{"broken rand", func(c *Config) { c.Rand = iotest.ErrReader(errors.New("no entropy")) }},
	}
	if _, err := New(good()); err != nil {
		t.Fatalf("good config refused: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good()
			tt.mutate(&cfg)
			if _, err := New(cfg); err == nil {
				t.Fatal("New accepted a bad config")
			}
		})
	}
}

func TestExpiryRequeues(t *testing.T) {
	p := testPeers(t, 2)
	c := newCoord(t, testConfig(1, 2))
	l := mustLease(t, c, t0, p[0], "")
	if l.Expires != t0.Add(ttl) || l.Issued != t0 {
		t.Fatalf("lease times %v..%v, want %v..%v", l.Issued, l.Expires, t0, t0.Add(ttl))
	}
	if got := c.Expire(l.Expires.Add(-time.Nanosecond)); len(got) != 0 {
		t.Fatalf("lease expired early: %v", got)
	}
	r := result("frame")
	if err := commit(c, t0.Add(time.Minute), l.ID, p[0], job.Commit(l.Salt, r.Digest)); err != nil {
		t.Fatal(err)
	}
	got := c.Expire(l.Expires)
	if len(got) != 1 || got[0].ID != l.ID {
		t.Fatalf("Expire at the deadline returned %v, want lease %s", got, l.ID)
	}
	if again := c.Expire(l.Expires.Add(time.Hour)); len(again) != 0 {
		t.Fatalf("lease reported expired twice: %v", again)
	}
	wantErr(t, c.Deliver(l.Expires, l.ID, p[0], r), ErrLeaseExpired)
	if n := c.Progress(); n.Queued != 1 || n.Rendering != 0 {
		t.Fatalf("after expiry progress %+v, want the task queued", n)
	}
	// Expiry noticed by Lease is still reported by Expire.
	p = testPeers(t, 3)
	c2 := newCoord(t, testConfig(1, 2))
	l2a := mustLease(t, c2, t0, p[0], "")
	l2b := mustLease(t, c2, t0.Add(time.Minute), p[1], "")
	later := l2a.Expires.Add(time.Second)
	if got := mustLease(t, c2, later, p[2], ""); got.Task != l2a.Task {
		t.Fatalf("requeued task not leased: got %s", got.Task)
	}
	if got := c2.Expire(l2b.Expires); len(got) != 2 || got[0].ID != l2a.ID || got[1].ID != l2b.ID {
		t.Fatalf("Expire after Lease noticed an expiry returned %v, want %s and %s", got, l2a.ID, l2b.ID)
	}
}

func TestBlocklist(t *testing.T) {
	p := testPeers(t, 1)[0]
	type action func(c *Coordinator, now time.Time, l Lease) error
	fail := func(c *Coordinator, now time.Time, l Lease) error { return c.Fail(now, l.ID, p) }
	release := func(c *Coordinator, now time.Time, l Lease) error { return c.Release(now, l.ID, p) }
	expire := func(c *Coordinator, now time.Time, l Lease) error { c.Expire(l.Expires); return nil }
	mismatch := func(c *Coordinator, now time.Time, l Lease) error {
		if err := commit(c, now, l.ID, p, job.Commit(l.Salt, digest("claimed"))); err != nil {
			return err
		}
		if err := c.Deliver(now, l.ID, p, result("actual")); !errors.Is(err, ErrCommitmentMismatch) {
			return fmt.Errorf("Deliver: %v, want ErrCommitmentMismatch", err)
		}
		return nil
	}
	tests := []struct {
		name        string
		act         action
		times       int
		wantBlocked bool
	}{
		{"two failures", fail, 2, false},
		{"three failures", fail, 3, true},
		{"three expiries", expire, 3, true},
		{"three commitment mismatches", mismatch, 3, true},
		{"five hand-backs", release, 5, false},
		{"six hand-backs", release, 6, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCoord(t, testConfig(10, 2))
			now := t0
			for range tt.times {
				l := mustLease(t, c, now, p, "")
				if err := tt.act(c, now, l); err != nil {
					t.Fatal(err)
				}
				now = l.Expires
			}
			_, err := c.Lease(now, p, "")
			if tt.wantBlocked {
				wantErr(t, err, ErrBlocked)
			} else if err != nil {
				t.Fatalf("peer refused work: %v", err)
			}
			if c.Blocked(p) != tt.wantBlocked {
				t.Fatalf("Blocked = %v, want %v", !tt.wantBlocked, tt.wantBlocked)
			}
		})
	}
}

func TestDependencies(t *testing.T) {
	p := testPeers(t, 2)
	cfg := testConfig(3, 1)
	// Frame 1 (say, a bake) must be accepted before frames 2 and 3.
	cfg.Depends = map[job.Task][]job.Task{frameTask(2): {frameTask(1)}, frameTask(3): {frameTask(1)}}
	t.Run("waits for the dependency", func(t *testing.T) {
		c := newCoord(t, cfg)
		l := mustLease(t, c, t0, p[0], "")
		if l.Task != frameTask(1) {
			t.Fatalf("first lease %s, want frame 1", l.Task)
		}
		l2 := mustLease(t, c, t0, p[1], "") // new volunteer: frame 1 replicated
		if _, err := c.Lease(t0, p[0], ""); !errors.Is(err, ErrNoWork) {
			t.Fatalf("dependent task leased before its dependency was accepted: %v", err)
		}
		deliver(t, c, t0, l, "f1")
		deliver(t, c, t0, l2, "f1")
		if err := c.Resolve(frameTask(1), job.Decision{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0, 1}}); err != nil {
			t.Fatal(err)
		}
		if l := mustLease(t, c, t0, p[0], ""); l.Task != frameTask(2) {
			t.Fatalf("after acceptance got %s, want frame 2", l.Task)
		}
	})
	t.Run("fails with its dependency", func(t *testing.T) {
		c := newCoord(t, cfg)
		l := mustLease(t, c, t0, p[0], "")
		l2 := mustLease(t, c, t0, p[1], "")
		deliver(t, c, t0, l, "f1")
		deliver(t, c, t0, l2, "other")
		if err := c.Resolve(frameTask(1), job.Decision{Verdict: job.GiveUp}); err != nil {
			t.Fatal(err)
		}
		if n := c.Progress(); n.Failed != 3 || !c.Done() || c.State() != StateFailed {
			t.Fatalf("progress %+v, done %v, state %s: want all three failed", n, c.Done(), c.State())
		}
		if _, err := c.Lease(t0, p[0], ""); !errors.Is(err, ErrJobDone) {
			t.Fatalf("lease on a failed job: %v", err)
		}
	})
}

func TestAdaptiveReplicationOdds(t *testing.T) {
	const n = 4000
	tests := []struct {
		name     string
		standing *Standing // nil: no Standing function
		odds     float64
	}{
		{"no standing function: everyone is new", nil, 1},
		{"new volunteer: few verified", &Standing{Verified: 19, Jobs: 10, ConsecutiveValid: 19}, 1},
		{"new volunteer: few jobs", &Standing{Verified: 500, Jobs: 2, ConsecutiveValid: 500}, 1},
		{"established, 10 valid in a row", &Standing{Verified: 50, Jobs: 5, ConsecutiveValid: 10}, 0.1},
		{"established, long run hits the floor", &Standing{Verified: 5000, Jobs: 50, ConsecutiveValid: 1000}, MinReplicationOdds},
		{"established after a lost vote", &Standing{Verified: 50, Jobs: 5, ConsecutiveValid: 0}, 1},
	}
	ps := testPeers(t, 2)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(n, 1)
			cfg.Rand = seeded(7)
			if tt.standing != nil {
				s := *tt.standing
				cfg.Standing = func(p peer.ID) Standing {
					if p == ps[0] {
						return s
					}
					return Standing{} // the checker is new; it must not matter
				}
			}
			c := newCoord(t, cfg)
			for range n {
				l := mustLease(t, c, t0, ps[0], "")
				if err := commit(c, t0, l.ID, ps[0], job.Commitment{}); err != nil {
					t.Fatal(err)
				}
			}
			// The second peer can only get the tasks that were replicated.
			replicated := 0
			for {
				if _, err := c.Lease(t0, ps[1], ""); err != nil {
					wantErr(t, err, ErrNoWork)
					break
				}
				replicated++
			}
			mean := tt.odds * n
			sd := max(1, math.Sqrt(n*tt.odds*(1-tt.odds)))
			if diff := float64(replicated) - mean; diff > 5*sd || diff < -5*sd {
				t.Fatalf("%d of %d tasks replicated, want %.0f ± %.0f", replicated, n, mean, 5*sd)
			}
		})
	}
}

func TestPauseResumeCancel(t *testing.T) {
	p := testPeers(t, 2)
	c := newCoord(t, testConfig(2, 2))
	if c.State() != StateQueued {
		t.Fatalf("fresh job state %s", c.State())
	}
	l := mustLease(t, c, t0, p[0], "")
	c.Pause()
	if c.State() != StatePaused {
		t.Fatalf("state %s after Pause", c.State())
	}
	if _, err := c.Lease(t0, p[1], ""); !errors.Is(err, ErrPaused) {
		t.Fatalf("lease while paused: %v", err)
	}
	deliver(t, c, t0, l, "ok") // a lease out before the pause still delivers
	if err := c.Resume(); err != nil {
		t.Fatal(err)
	}
	if c.State() != StateRunning {
		t.Fatalf("state %s after Resume", c.State())
	}
	l2 := mustLease(t, c, t0, p[1], "")
	deliver(t, c, t0, l2, "ok")
	if len(c.Pending()) != 1 {
		t.Fatal("delivered task not pending")
	}
	c.Cancel()
	if _, err := c.Lease(t0, p[1], ""); !errors.Is(err, ErrCanceled) || !errors.Is(err, ErrJobDone) {
		t.Fatalf("lease after Cancel: %v, want ErrCanceled wrapping ErrJobDone", err)
	}
	wantErr(t, commit(c, t0, l2.ID, p[1], job.Commitment{}), ErrCanceled)
	wantErr(t, c.Resume(), ErrCannotResume)
	if !c.Done() || c.State() != StateCanceled || len(c.Pending()) != 0 {
		t.Fatalf("canceled job: done %v, state %s, %d pending", c.Done(), c.State(), len(c.Pending()))
	}
}

func TestCheckPeerMatchesTextRoundTrip(t *testing.T) {
	ids := []peer.ID{"", "x", "\x00\x00", "\x00\x03abc", "\x12\x20" + peer.ID(make([]byte, 32)), "\x12\x10" + peer.ID(make([]byte, 16)),
		"\x13\x20" + peer.ID(make([]byte, 32)), testPeer(t, 1), testPeer(t, 1) + "x"}
	for _, id := range ids {
		q, err := peer.Decode(id.String())
		roundTrips := id != "" && err == nil && q == id
		if got := checkPeer(id) == nil; got != roundTrips {
			t.Errorf("checkPeer(%q) accepts = %v, but the text round trip says %v", id, got, roundTrips)
		}
	}
}

func TestConfigFor(t *testing.T) {
	j := testJob("job")
	frames, err := job.ParseFrameSpec("1-10x3")
	if err != nil {
		t.Fatal(err)
	}
	m := job.Manifest{Frames: frames, Tiles: 2, Replicas: 3, Limits: job.Limits{MaxSecondsPerFrame: 600}}
	cfg := ConfigFor(j, m)
	if cfg.LeaseTTL != 30*time.Minute || cfg.Replicas != 3 || len(cfg.Tasks) != 8 || !cfg.Job.Equals(j) {
		t.Fatalf("ConfigFor = TTL %v, replicas %d, %d tasks", cfg.LeaseTTL, cfg.Replicas, len(cfg.Tasks))
	}
	if _, err := New(cfg); err != nil {
		t.Fatalf("New(ConfigFor(...)): %v", err)
	}
}

// The node calls the coordinator from one stream handler per volunteer.
func TestConcurrentUse(t *testing.T) {
	ps := testPeers(t, 8)
	c := newCoord(t, testConfig(200, 2))
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() {
			for {
				l, err := c.Lease(t0, p, "")
				if err != nil {
					return
				}
				r := result(l.Task.String())
				if err := commit(c, t0, l.ID, p, job.Commit(l.Salt, r.Digest)); err != nil {
					t.Error(err)
					return
				}
				// The other replica's holder commits soon.
				for revealed := false; !revealed; {
					if revealed, err = c.Revealed(t0, l.ID, p); err != nil {
						t.Error(err)
						return
					}
					runtime.Gosched()
				}
				if err := c.Deliver(t0, l.ID, p, r); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for !c.Done() && !t.Failed() {
			for _, tr := range c.Pending() {
				c.Resolve(tr.Task, job.Decision{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0, 1}})
			}
			c.Progress()
			if _, err := c.Snapshot(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	if n := c.Progress(); n.Verified != 200 {
		t.Fatalf("progress %+v, want all 200 verified", n)
	}
}

func TestAdaptiveCoinWaitsForTheCommitment(t *testing.T) {
	ps := testPeers(t, 2)
	cfg := testConfig(1, 1)
	cfg.Standing = func(peer.ID) Standing { return Standing{Verified: 100, Jobs: 10, ConsecutiveValid: 2} } // odds 1/2
	outcomes := map[bool]int{}
	for seed := range byte(40) {
		cfg.Rand = seeded(seed)
		c := newCoord(t, cfg)
		l := mustLease(t, c, t0, ps[0], "")
		if _, err := c.Lease(t0, ps[1], ""); !errors.Is(err, ErrNoWork) {
			t.Fatalf("seed %d: a second replica went out before the holder committed: %v", seed, err)
		}
		if err := commit(c, t0, l.ID, ps[0], job.Commitment{}); err != nil {
			t.Fatal(err)
		}
		_, err := c.Lease(t0, ps[1], "")
		outcomes[err == nil]++
	}
	if outcomes[true] == 0 || outcomes[false] == 0 {
		t.Fatalf("at odds 1/2 over 40 seeds: %d replicated, %d not", outcomes[true], outcomes[false])
	}
}
