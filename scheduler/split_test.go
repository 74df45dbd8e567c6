package scheduler

import (
	"encoding/json"
	"errors"
	"image"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/job"
)

// testBands are the four bands the tests' Split cuts a task into.
var testBands = []image.Rectangle{
	image.Rect(0, 0, 16, 4), image.Rect(0, 4, 16, 8), image.Rect(0, 8, 16, 12), image.Rect(0, 12, 16, 16),
}

// splitConfig is an adaptive job of frames one-minute frames whose
// volunteers are established with replication odds of one half, with
// check replicas on checkCrop and second renders split into testBands.
func splitConfig(frames int, seed byte) Config {
	cfg := tailConfig(frames)
	cfg.Standing = func(peer.ID) Standing { return Standing{Verified: 100, Jobs: 10, ConsecutiveValid: 2} }
	cfg.Check = func(job.Task) image.Rectangle { return checkCrop }
	cfg.Split = func(job.Task) []image.Rectangle { return testBands }
	cfg.Rand = seeded(seed)
	return cfg
}

// idle has ps ask for work at t0+30s, while frame 1 renders: they are
// told there is none.
func idle(t *testing.T, ps ...peer.ID) func(*Coordinator) {
	return func(c *Coordinator) {
		for _, p := range ps {
			if _, err := c.Lease(t0.Add(30*time.Second), p, ""); !errors.Is(err, ErrNoWork) {
				t.Fatalf("%s while frame 1 renders: %v, want ErrNoWork", p, err)
			}
		}
	}
}

// replicated returns a coordinator of cfg(seed) whose frame 1 was leased
// to p at t0 and committed at now, for the first seed whose coin asks for
// a second render of it. before, if not nil, runs between the two.
func replicated(t *testing.T, p peer.ID, now time.Time, cfg func(seed byte) Config, before func(*Coordinator)) (*Coordinator, Config) {
	t.Helper()
	for seed := range byte(50) {
		cfg := cfg(seed)
		c := newCoord(t, cfg)
		l := mustLease(t, c, t0, p, "")
		if l.Task != frameTask(1) {
			t.Fatalf("first lease %s, want frame 1", l.Task)
		}
		if before != nil {
			before(c)
		}
		deliver(t, c, now, l, "whole")
		c.mu.Lock()
		want := c.tasks[0].want
		c.mu.Unlock()
		if want > 1 {
			return c, cfg
		}
	}
	t.Fatal("no seed replicated at odds 1/2")
	return nil, Config{}
}

// At a job's end, a second render the coin asks for is split into bands,
// each another peer's: the task is decided a quarter of a render after its
// first result. Every band goes out once, to a peer that has not rendered
// the task; a band whose peer vanishes goes to another; the task is
// pending when every band is in, and each band's peer is a checker of its
// own band, after a restart too.
func TestSecondRenderSplitAtTheEnd(t *testing.T) {
	ps := testPeers(t, 7)
	now := t0.Add(time.Minute)
	c, cfg := replicated(t, ps[0], now, func(seed byte) Config { return splitConfig(1, seed) }, idle(t, ps[1:6]...))
	if _, err := c.Lease(now, ps[0], ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("the renderer got a band of its own task: %v", err)
	}
	leases := map[image.Rectangle]Lease{}
	for _, p := range ps[1:5] {
		l := mustLease(t, c, now, p, "")
		if !slices.Contains(testBands, l.Crop) {
			t.Fatalf("%s got crop %v, want a band", p, l.Crop)
		}
		if _, dup := leases[l.Crop]; dup {
			t.Fatalf("band %v leased twice", l.Crop)
		}
		leases[l.Crop] = l
	}
	if l, err := c.Lease(now, ps[5], ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("a fifth peer got %+v, %v; want ErrNoWork with every band out", l, err)
	}

	// A restart keeps the bands and who renders which.
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if c, err = Restore(cfg, snap, now); err != nil {
		t.Fatal(err)
	}
	if l, err := c.Lease(now, ps[5], ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("after a restart a fifth peer got %+v, %v", l, err)
	}

	// The third band's peer never commits: its band goes to ps[5].
	later := now.Add(ttl)
	lost := leases[testBands[2]]
	for _, b := range []int{0, 1, 3} {
		deliver(t, c, now, leases[testBands[b]], "band")
		if _, err := c.Renew(later.Add(-time.Second), leases[testBands[b]].ID, leases[testBands[b]].Peer); err != nil {
			t.Fatal(err)
		}
	}
	c.Expire(later)
	again := mustLease(t, c, later, ps[5], "")
	if again.Crop != lost.Crop {
		t.Fatalf("after a band's lease lapsed the next lease has crop %v, want %v", again.Crop, lost.Crop)
	}
	if p := c.Pending(); len(p) != 0 {
		t.Fatalf("pending with a band missing: %+v", p)
	}
	deliver(t, c, later, again, "band")
	p := c.Pending()
	if len(p) != 1 || len(p[0].Results) != 5 || !p[0].Results[0].Crop.Empty() {
		t.Fatalf("pending %+v, want the whole result and four bands", p)
	}
	if err := c.Resolve(frameTask(1), job.Decision{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0, 1, 2, 3, 4}}); err != nil {
		t.Fatal(err)
	}
	check := func(c *Coordinator) {
		t.Helper()
		checkers, crops := c.Checked(frameTask(1))
		if len(checkers) != 4 {
			t.Fatalf("checked by %v, want the four bands' peers", checkers)
		}
		for k, v := range checkers {
			want := testBands[2]
			if v != ps[5] {
				want = leases[crops[k]].Crop
				if leases[crops[k]].Peer != v {
					t.Fatalf("%s is credited with band %v, which %s rendered", v, crops[k], leases[crops[k]].Peer)
				}
			}
			if crops[k] != want {
				t.Fatalf("%s is credited with band %v, want %v", v, crops[k], want)
			}
		}
	}
	check(c)
	if snap, err = c.Snapshot(); err != nil {
		t.Fatal(err)
	}
	r, err := Restore(cfg, snap, later)
	if err != nil {
		t.Fatal(err)
	}
	check(r)
}

// While the job has plenty left, without Split, or with fewer idle peers
// than bands, a second render is one peer's render of the whole task, as
// before.
func TestSecondRenderWholeWhileTheJobRuns(t *testing.T) {
	ps := testPeers(t, 5)
	for name, tc := range map[string]struct {
		cfg  func(byte) Config
		idle []peer.ID
	}{
		"plenty left": {func(seed byte) Config { return splitConfig(200, seed) }, nil}, // nobody idle: all have work
		"no Split": {func(seed byte) Config {
			cfg := splitConfig(1, seed)
			cfg.Split = nil
			return cfg
		}, ps[1:5]},
		"three idle peers": {func(seed byte) Config { return splitConfig(1, seed) }, ps[1:4]},
	} {
		c, _ := replicated(t, ps[0], t0.Add(time.Minute), tc.cfg, idle(t, tc.idle...))
		if l := mustLease(t, c, t0.Add(time.Minute), ps[1], ""); l.Task != frameTask(1) || !l.Crop.Empty() {
			t.Errorf("%s: second lease %s crop %v, want the whole of frame 1", name, l.Task, l.Crop)
		}
	}
}

// Bands nobody takes within CheckWait (the idle peers went away) give way
// to a second render of the whole, decided with the bands already in.
func TestUntakenBandsGiveWayToAWholeRender(t *testing.T) {
	ps := testPeers(t, 6)
	now := t0.Add(time.Minute)
	c, cfg := replicated(t, ps[0], now, func(seed byte) Config { return splitConfig(1, seed) }, idle(t, ps[1:5]...))
	for _, p := range ps[1:3] {
		deliver(t, c, now, mustLease(t, c, now, p, ""), "band")
	}
	c.Expire(now.Add(DefaultCheckWait - time.Second))
	if l := mustLease(t, c, now.Add(DefaultCheckWait-time.Second), ps[3], ""); l.Crop.Empty() {
		t.Fatal("a band was not leased before CheckWait")
	}
	// ps[3] holds the third band; the fourth nobody takes.
	later := now.Add(DefaultCheckWait - time.Second + DefaultCheckWait)
	c.Expire(later)
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if c, err = Restore(cfg, snap, later); err != nil {
		t.Fatal(err)
	}
	l := mustLease(t, c, later, ps[5], "")
	if !l.Crop.Empty() {
		t.Fatalf("after CheckWait the lease has crop %v, want the whole task", l.Crop)
	}
	if _, err := c.Lease(later, ps[4], ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("the fourth band still went out: %v", err)
	}
	deliver(t, c, later, l, "whole")
	if p := c.Pending(); len(p) != 0 {
		t.Fatalf("pending with the third band out: %+v", p)
	}
}

// A snapshot naming an empty band, too many bands, or bands beside a
// check crop does not restore.
func TestRestoreRefusesBadBands(t *testing.T) {
	ps := testPeers(t, 5)
	c, cfg := replicated(t, ps[0], t0.Add(time.Minute), func(seed byte) Config { return splitConfig(1, seed) }, idle(t, ps[1:5]...))
	good, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(cfg, good, t0); err != nil {
		t.Fatal(err)
	}
	for name, spoil := range map[string]func(*taskSnap){
		"empty band":     func(ts *taskSnap) { ts.Bands[1] = rect{0, 4, 16, 4} },
		"bands and crop": func(ts *taskSnap) { ts.Crop = newRect(checkCrop) },
		"17 bands":       func(ts *taskSnap) { ts.Bands = slices.Repeat(ts.Bands[:1], MaxBands+1) },
	} {
		var s snapshot
		if err := json.Unmarshal(good, &s); err != nil {
			t.Fatal(err)
		}
		if len(s.State) != 1 || len(s.State[0].Bands) != len(testBands) {
			t.Fatalf("snapshot state %+v, want frame 1 with its bands", s.State)
		}
		spoil(&s.State[0])
		bad, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Restore(cfg, bad, t0); err == nil {
			t.Errorf("%s: restored", name)
		}
	}
}
