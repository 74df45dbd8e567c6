package scheduler

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/job"
)

// midJob builds a coordinator for 6 frames with Replicas 2 in a mix of
// states at t0+10m:
//
//	frame 1: accepted and credited      frame 4: a delivered, b committed
//	frame 2: accepted, not credited     frame 5: a leased (no commitment)
//	frame 3: a and b delivered, pending frame 6: queued
//
// and peer d blocklisted.
func midJob(t testing.TB, ps []peer.ID) (*Coordinator, Config, map[string]Lease) {
	t.Helper()
	a, b, d := ps[0], ps[1], ps[3]
	cfg := testConfig(6, 2)
	cfg.MaxFailures = 1
	c := newCoord(t, cfg)
	ls := map[string]Lease{}
	for f := 1; f <= 5; f++ {
		ls["a"+string(rune('0'+f))] = mustLease(t, c, t0, a, "")
		if f <= 4 {
			ls["b"+string(rune('0'+f))] = mustLease(t, c, t0, b, "")
		}
	}
	for f := 1; f <= 3; f++ {
		s := string(rune('0' + f))
		deliver(t, c, t0, ls["a"+s], "frame"+s)
		deliver(t, c, t0, ls["b"+s], "frame"+s)
	}
	for f := 1; f <= 2; f++ {
		if err := c.Resolve(frameTask(f), job.Decision{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0, 1}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.MarkCredited(frameTask(1)); err != nil {
		t.Fatal(err)
	}
	a4, b4 := ls["a4"], ls["b4"]
	for _, l := range []Lease{a4, b4} {
		if err := commit(c, t0, l.ID, l.Peer, job.Commit(l.Salt, digest("frame4"))); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Deliver(t0, a4.ID, a, result("frame4")); err != nil {
		t.Fatal(err)
	}
	ld := mustLease(t, c, t0, d, "")
	if err := c.Fail(t0.Add(10*time.Minute), ld.ID, d); err != nil {
		t.Fatal(err)
	}
	return c, cfg, ls
}

func TestSnapshotRestoreMidJob(t *testing.T) {
	ps := testPeers(t, 5)
	a, b, cp, d := ps[0], ps[1], ps[2], ps[3]
	c, cfg, ls := midJob(t, ps)
	before := c.Progress()
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// The publisher was down for two hours; leases had 50 minutes left.
	back := t0.Add(2*time.Hour + 10*time.Minute)
	cfg.Rand = seeded(1) // same randomness as before the crash: IDs must still not collide
	r, err := Restore(cfg, snap, back)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("progress and state", func(t *testing.T) {
		if got := r.Progress(); got != before || got != (Counts{Total: 6, Verified: 2, Rendering: 3, Queued: 1}) {
			t.Fatalf("progress %+v, before %+v", got, before)
		}
		if r.State() != StateRunning {
			t.Fatalf("state %s", r.State())
		}
	})
	t.Run("accepted results and credited flags", func(t *testing.T) {
		for f := 1; f <= 2; f++ {
			res, peers, ok := r.Accepted(frameTask(f))
			if !ok || res != result("frame"+string(rune('0'+f))) || !slices.Equal(peers, []peer.ID{a, b}) {
				t.Fatalf("frame %d: %v %v %v", f, res, peers, ok)
			}
		}
		if !r.Credited(frameTask(1)) || r.Credited(frameTask(2)) {
			t.Fatal("credited flags changed")
		}
		if got := r.Uncredited(); !slices.Equal(got, []job.Task{frameTask(2)}) {
			t.Fatalf("Uncredited = %v, want frame 2 only", got)
		}
	})
	t.Run("pending decision survives", func(t *testing.T) {
		pend := r.Pending()
		if len(pend) != 1 || pend[0].Task != frameTask(3) || len(pend[0].Results) != 2 {
			t.Fatalf("pending %+v, want frame 3 with 2 results", pend)
		}
	})
	t.Run("blocklist survives", func(t *testing.T) {
		if _, err := r.Lease(back, d, ""); !errors.Is(err, ErrBlocked) {
			t.Fatalf("blocked peer after restore: %v", err)
		}
	})
	t.Run("outstanding leases deliver after the downtime", func(t *testing.T) {
		r, _ := Restore(cfg, snap, back)
		now := back.Add(49 * time.Minute)
		if got := r.Expire(now); len(got) != 0 {
			t.Fatalf("leases expired during the publisher's downtime: %v", got)
		}
		b4 := ls["b4"]
		if err := r.Deliver(now, b4.ID, b, result("frame4")); err != nil {
			t.Fatalf("delivering a lease committed before the crash: %v", err)
		}
		a5 := ls["a5"]
		deliverErr := r.Deliver(now, a5.ID, a, result("frame5"))
		wantErr(t, deliverErr, ErrNotCommitted)
		if got := r.Expire(back.Add(50 * time.Minute)); len(got) != 1 || got[0].ID != a5.ID {
			t.Fatalf("Expire = %v, want lease %s only", got, a5.ID)
		}
	})
	t.Run("no second replica for the same peer, no ID collisions", func(t *testing.T) {
		r, _ := Restore(cfg, snap, back)
		old := map[string]bool{}
		for _, l := range ls {
			old[l.ID] = true
		}
		l := mustLease(t, r, back, a, "")
		if l.Task != frameTask(6) {
			t.Fatalf("peer a got %s, want frame 6 (it holds or held all others)", l.Task)
		}
		for _, p := range []peer.ID{cp, ps[4]} {
			l := mustLease(t, r, back, p, "")
			if old[l.ID] {
				t.Fatalf("new lease ID %s collides with an old one", l.ID)
			}
		}
	})
	t.Run("snapshot of a restored coordinator is stable", func(t *testing.T) {
		r, _ := Restore(cfg, snap, time.Time{})
		again, err := r.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, snap) {
			t.Fatalf("snapshot changed across Restore:\n%s\n%s", snap, again)
		}
	})
}

func TestRestoreRejects(t *testing.T) {
	ps := testPeers(t, 5)
	c, cfg, _ := midJob(t, ps)
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(snap, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	state := func(m map[string]any, i int) map[string]any { return m["state"].([]any)[i].(map[string]any) }
	tests := []struct {
		name string
		cfg  func(Config) Config
		snap []byte
	}{
		{"other job", func(c Config) Config {
			j := testJob("other")
			c.Job, c.Tasks = j, tasksOf(j, 6, 1)
			return c
		}, snap},
		{"other task list", func(c Config) Config { c.Tasks = tasksOf(c.Job, 7, 1); return c }, snap},
		{"other replication", func(c Config) Config { c.Replicas = 3; return c }, snap},
		{"future version", nil, edit(func(m map[string]any) { m["v"] = 2 })},
		{"unknown field", nil, edit(func(m map[string]any) { m["extra"] = 1 })},
		{"trailing data", nil, append(slices.Clone(snap), []byte(` {}`)...)},
		{"truncated", nil, snap[:len(snap)/2]},
		{"empty", nil, nil},
		{"task index out of range", nil, edit(func(m map[string]any) { state(m, 0)["i"] = 6 })},
		{"forged result digest", nil, edit(func(m map[string]any) {
			rep := state(m, 2)["r"].([]any)[0].(map[string]any)
			rep["res"].(map[string]any)["digest"] = strings.Repeat("00", 32)
		})},
		{"two replicas for one peer", nil, edit(func(m map[string]any) {
			reps := state(m, 2)["r"].([]any)
			reps[1].(map[string]any)["p"] = reps[0].(map[string]any)["p"]
		})},
		{"credited but not accepted", nil, edit(func(m map[string]any) { state(m, 2)["cr"] = true })},
		{"bad peer ID", nil, edit(func(m map[string]any) { m["peers"].([]any)[0] = "QmNotAPeer" })},
		{"peer listed twice", nil, edit(func(m map[string]any) { m["peers"].([]any)[1] = m["peers"].([]any)[0] })},
		{"peer index out of range", nil, edit(func(m map[string]any) { m["points"].([]any)[0].(map[string]any)["p"] = 99 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cf := cfg
			if tt.cfg != nil {
				cf = tt.cfg(cfg)
			}
			if _, err := Restore(cf, tt.snap, t0); err == nil {
				t.Fatal("Restore accepted it")
			}
		})
	}
}

func FuzzRestore(f *testing.F) {
	ps := testPeers(f, 5)
	var cfg Config
	{
		c, cf, _ := midJob(f, ps)
		cfg = cf
		snap, err := c.Snapshot()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(snap)
		f.Add(snap[:len(snap)-1])
		fresh, _ := newCoord(f, cfg).Snapshot()
		f.Add(fresh)
	}
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{"v":1,"state":[{"i":-1}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cf := cfg
		cf.Rand = seeded(1)
		c, err := Restore(cf, b, t0)
		if err != nil {
			if !errors.Is(err, ErrBadSnapshot) {
				t.Fatalf("error %v does not wrap ErrBadSnapshot", err)
			}
			return
		}
		// Whatever was accepted must survive another round trip and
		// leave a usable coordinator.
		snap, err := c.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		cf.Rand = seeded(2)
		c2, err := Restore(cf, snap, t0)
		if err != nil {
			t.Fatalf("restoring our own snapshot: %v", err)
		}
		if c.Progress() != c2.Progress() {
			t.Fatalf("progress %+v became %+v", c.Progress(), c2.Progress())
		}
		c2.Lease(t0.Add(time.Hour), ps[4], "10.1")
		c2.Pending()
	})
}
