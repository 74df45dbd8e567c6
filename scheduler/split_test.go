package scheduler

import (
	"errors"
	"image"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/job"
)

// splitParts are the pieces the tests' Split cuts a task in.
var splitParts = []image.Rectangle{image.Rect(0, 0, 8, 2), image.Rect(0, 2, 8, 4), image.Rect(0, 4, 8, 6)}

// splitConfig is a one-frame adaptive job whose volunteers are established
// with replication odds of one half, with check replicas and Split.
func splitConfig(seed byte) Config { return splitJob(1, seed) }

// splitJob is splitConfig for a job of frames frames.
func splitJob(frames int, seed byte) Config {
	cfg := checkConfig(frames, seed)
	cfg.Standing = func(peer.ID) Standing { return Standing{Verified: 100, Jobs: 10, ConsecutiveValid: 2} }
	cfg.Split = func(job.Task, int) []image.Rectangle { return splitParts }
	cfg.RenderTime = 4 * time.Minute
	return cfg
}

// replicated returns a coordinator whose frame 1 ps[0] rendered and
// committed, after idle of the other peers asked for backups, and whose
// coin asked for a second render: the first seed that does.
func replicated(t *testing.T, ps []peer.ID, idle int) (*Coordinator, Config, Lease) {
	t.Helper()
	return coined(t, ps, idle, true)
}

// coined is replicated, or with second false the same for a coin that
// asked for a check crop instead.
func coined(t *testing.T, ps []peer.ID, idle int, second bool) (*Coordinator, Config, Lease) {
	t.Helper()
	return coinedWith(t, ps, idle, second, nil)
}

// coinedWith is coined on splitConfig changed by adjust.
func coinedWith(t *testing.T, ps []peer.ID, idle int, second bool, adjust func(*Config)) (*Coordinator, Config, Lease) {
	t.Helper()
	for seed := range byte(50) {
		cfg := splitConfig(seed)
		if adjust != nil {
			adjust(&cfg)
		}
		c := newCoord(t, cfg)
		l := mustLease(t, c, t0, ps[0], "")
		for _, p := range ps[1 : 1+idle] {
			if _, err := c.LeaseBackup(t0, p, ""); !errors.Is(err, ErrNoWork) {
				t.Fatalf("backup: %v", err)
			}
		}
		now := t0.Add(raceEvery)       // the idle askers are counted anew
		deliver(t, c, now, l, "whole") // committed; delivered once the check is
		c.mu.Lock()
		want, crop := c.tasks[0].want, c.tasks[0].crop
		c.mu.Unlock()
		if want > 1 && crop.Empty() == second {
			return c, cfg, l
		}
	}
	t.Fatalf("no seed's coin asked for that (second render: %v) at odds 1/2", second)
	return nil, Config{}, Lease{}
}

// When the coin asks for a second render while peers stand idle, the
// second render is cut in parts (Config.Split), each leased to another
// peer as a check replica: the task is decided on the first result and
// every part, in a fraction of a render. The parts survive a restart, and
// a part handed back goes out again.
func TestSecondRenderSplit(t *testing.T) {
	ps := testPeers(t, 6)
	c, cfg, _ := replicated(t, ps, 4)
	now := t0.Add(2 * raceEvery)
	if _, err := c.Lease(now, ps[0], ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("the renderer got a part of its own task: %v", err)
	}
	var parts []Lease
	for _, p := range ps[1:4] {
		l := mustLease(t, c, now, p, "")
		parts = append(parts, l)
	}
	for k, l := range parts {
		if l.Crop != splitParts[k] {
			t.Fatalf("part lease %d has crop %v, want %v", k, l.Crop, splitParts[k])
		}
	}
	if _, err := c.Lease(now, ps[4], ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("a fourth check went out for three parts: %v", err)
	}
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for k, l := range parts {
		deliver(t, c, now, l, "part"+string(rune('0'+k)))
	}
	p := c.Pending()
	if len(p) != 1 || len(p[0].Results) != 4 || p[0].Quorum != 4 {
		t.Fatalf("pending %+v, want the whole result and three parts, all to agree", p)
	}
	if err := c.Resolve(frameTask(1), job.Decision{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0, 1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	crop, checkers := c.Checked(frameTask(1))
	if crop != splitParts[0] || len(checkers) != 3 {
		t.Fatalf("checked %v by %v, want the first part's size and three checkers", crop, checkers)
	}

	// After a restart the parts are still the check: the peer of the
	// second part hands it back, and that part goes out again.
	r, err := Restore(cfg, snap, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Release(now, parts[1].ID, ps[2]); err != nil {
		t.Fatal(err)
	}
	again := mustLease(t, r, now, ps[4], "")
	if again.Crop != splitParts[1] {
		t.Fatalf("after a restart and a lost part the lease has crop %v, want %v", again.Crop, splitParts[1])
	}
}

// With no peer idle, the coin's second render is a replica of the whole
// task, as ever: cutting it would only wait for busy peers.
func TestSecondRenderWholeWhenBusy(t *testing.T) {
	ps := testPeers(t, 3)
	c, _, _ := replicated(t, ps, 0)
	if l := mustLease(t, c, t0.Add(2*raceEvery), ps[1], ""); !l.Crop.Empty() {
		t.Fatalf("with nobody idle the second render is a part %v", l.Crop)
	}
}

// The parts of a split render go to peers at least as fast as the job's
// mean for partWait: a slow machine's part would take most of a render,
// and idle peers abound. After that any peer takes them.
func TestSplitPartsGoToFasterPeers(t *testing.T) {
	ps := testPeers(t, 6)
	c, _, _ := replicated(t, ps, 4)
	slow := ps[5]
	c.NoteSpeed(slow, 0.25) // 4 minutes a render; the job's mean is a second
	now := t0.Add(2 * raceEvery)
	if _, err := c.Lease(now, slow, ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("a slow peer got a part while faster ones stood idle: %v", err)
	}
	l, err := c.Lease(now.Add(partWait), slow, "")
	if err != nil || l.Crop != splitParts[0] {
		t.Fatalf("after %v the slow peer got %+v, %v; want the first part", partWait, l, err)
	}
}

// So does the check crop of a job flooded with idle peers: a slow
// machine's crop may take longer than a fast one's whole render, and it
// would be the job's last. When nobody stands idle, the first asker takes
// it, however slow.
func TestChecksGoToFasterPeersWhenIdle(t *testing.T) {
	ps := testPeers(t, 6)
	c, _, _ := coined(t, ps, 4, false)
	slow := ps[5]
	c.NoteSpeed(slow, 0.25)
	now := t0.Add(2 * raceEvery)
	if _, err := c.Lease(now, slow, ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("a slow peer got the check while faster ones stood idle: %v", err)
	}
	l, err := c.Lease(now.Add(partWait), slow, "")
	if err != nil || l.Crop.Empty() {
		t.Fatalf("after %v the slow peer got %+v, %v; want the check crop", partWait, l, err)
	}

	c, _, _ = coined(t, ps, 0, false)
	c.NoteSpeed(slow, 0.25)
	if l := mustLease(t, c, now, slow, ""); l.Crop.Empty() {
		t.Fatalf("with nobody idle the slow peer got %+v, want the check crop", l)
	}
}

// The second render is cut in as many parts as peers stand idle, up to
// MaxParts, and the parts count as one result towards MaxResults: a task
// split in six (seven results, MaxResults five) gets a further replica
// when the publisher asks for one, like a task checked by a second whole
// render.
func TestSplitInAsManyPartsAsPeersStandIdle(t *testing.T) {
	ps := testPeers(t, 10)
	asked := 0
	var rows []image.Rectangle
	for k := range 6 {
		rows = append(rows, image.Rect(0, k, 8, k+1))
	}
	c, _, _ := coinedWith(t, ps, 8, true, func(cfg *Config) {
		cfg.Split = func(_ job.Task, n int) []image.Rectangle { asked = n; return rows[:min(n, len(rows))] }
	})
	if asked != MaxParts {
		t.Fatalf("with eight peers idle Split was asked for %d parts, want %d", asked, MaxParts)
	}
	now := t0.Add(2 * raceEvery)
	for k, p := range ps[1:7] {
		l := mustLease(t, c, now, p, "")
		if l.Crop != rows[k] {
			t.Fatalf("part lease %d has crop %v, want %v", k, l.Crop, rows[k])
		}
		deliver(t, c, now, l, "part"+string(rune('0'+k)))
	}
	p := c.Pending()
	if len(p) != 1 || len(p[0].Results) != 7 || p[0].Quorum != 7 || p[0].MaxResults != DefaultMaxResults+5 {
		t.Fatalf("pending %+v, want seven results, all to agree, of at most %d", p, DefaultMaxResults+5)
	}
	if err := c.Resolve(frameTask(1), job.Decision{Verdict: job.NeedReplica, Canonical: -1}); err != nil {
		t.Fatal(err)
	}
	if l := mustLease(t, c, now, ps[7], ""); !l.Crop.Empty() {
		t.Fatalf("after the parts the further replica is %v, want the whole task", l.Crop)
	}
	if pr := c.Progress(); pr.Failed != 0 {
		t.Fatalf("progress %+v: a task split in six failed on its first disagreement", pr)
	}
}

// A job whose every task is held has nothing left for the peers rendering
// it but checks and backups: a second render the coin asks for then is
// cut in as many parts as peers hold a render of the job, up to MaxParts,
// though none stands idle yet; they take the parts as they come free.
// While a task of the job is untried, the second render stays whole.
func TestDrainedJobSplitsItsSecondRender(t *testing.T) {
	ps := testPeers(t, 4)
	for _, frames := range []int{4, 5} {
		found := false
		for seed := range byte(50) {
			cfg := splitJob(frames, seed)
			asked := 0
			cfg.Split = func(_ job.Task, n int) []image.Rectangle { asked = n; return splitParts[:min(n, len(splitParts))] }
			c := newCoord(t, cfg)
			var ls []Lease
			for _, p := range ps {
				ls = append(ls, mustLease(t, c, t0, p, ""))
			}
			deliver(t, c, t0.Add(time.Minute), ls[0], "whole")
			c.mu.Lock()
			tk := c.tasks[c.index[ls[0].Task]]
			want, crop, parts := tk.want, tk.crop, len(tk.parts)
			c.mu.Unlock()
			if want < 2 || !crop.Empty() {
				continue // the coin asked for no second render
			}
			found = true
			switch {
			case frames == 4 && (asked != 3 || parts != 3):
				t.Fatalf("every task held by four peers: Split asked for %d, %d parts; want 3 (the other holders)", asked, parts)
			case frames == 5 && (asked != 0 || parts != 0):
				t.Fatalf("a task untried: Split asked for %d, %d parts; want the second render whole", asked, parts)
			}
			if frames == 4 {
				l := mustLease(t, c, t0.Add(time.Minute), ps[1], "")
				if l.Crop != splitParts[0] {
					t.Fatalf("a holder asking got %v, want the first part %v", l.Crop, splitParts[0])
				}
			}
			break
		}
		if !found {
			t.Fatalf("%d frames: no seed's coin asked for a second render at odds 1/2", frames)
		}
	}
}
