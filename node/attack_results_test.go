package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/adversary"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/publisher"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/scheduler"
)

// Attacks on results and credits: copying, Sybil placement, inflated
// claims, caught cheaters' standing, crop checks that cannot run.

// A copier holds its lease uncommitted until the other replica's result
// shows up in the swarm, then commits to it and delivers it. It earns
// nothing, and every task it leased still gets two independent renders.
func TestAttackCopierEarnsNothing(t *testing.T) {
	s, scene, ctx := testSwarm(t, 3, quickDeadlines)
	copier := startAdversary(t, ctx, s, true)
	pauseVolunteers(t, ctx, s, true) // the copier gets a replica first
	id, m := publish(t, ctx, s, scene, publisher.Request{Frames: "1-4", Width: 64, Height: 36, Samples: 4, Replicas: 2})
	goWork(t, ctx, copier, s, id, adversary.Behavior{Copy: true})
	if !waitFor(30*time.Second, func() bool { return len(copier.Stats().Leased) > 0 }) {
		t.Fatalf("the copier got no lease: %+v", copier.Stats())
	}
	pauseVolunteers(t, ctx, s, false)
	if err := waitDone(ctx, s.nodes[0].pub, id, nil); err != nil {
		t.Fatal(err)
	}
	st := copier.Stats()
	if len(st.Leased) == 0 {
		t.Fatal("the copier got no lease: the test proves nothing")
	}
	honest := map[peer.ID]bool{s.nodes[1].net.ID(): true, s.nodes[2].net.ID(): true}
	independent := map[job.Task]int{}
	var earned int64
	var paid []job.Task
	for _, r := range waitReceiptsFor(t, s, id, m, 2) {
		switch {
		case r.Counterpart == copier.ID():
			earned += r.CU
			paid = append(paid, r.Task)
		case honest[r.Counterpart]:
			independent[r.Task]++
		}
	}
	if earned != 0 {
		t.Errorf("the copier earned %d mCU in %d receipts for frames %s (it leased %s, copied %s, delivered %s); want nothing",
			earned, len(paid), tasksString(paid), tasksString(st.Leased), tasksString(st.Copied), tasksString(st.Delivered))
	}
	for _, task := range st.Leased {
		if independent[task] < 2 {
			t.Errorf("frame %d, which the copier leased, was accepted with %d independent render(s); want 2", task.Frame, independent[task])
		}
	}
}

// Two identities of one attacker that ask for work back to back never hold
// both replicas of one task (replicas are placed at random in a window,
// never to consecutive askers).
func TestAttackSybilPairNeverHoldsBothReplicas(t *testing.T) {
	s, scene, ctx := testSwarm(t, 1, nil)
	a, b := startAdversary(t, ctx, s, false), startAdversary(t, ctx, s, false)
	pub := s.nodes[0].net.ID()
	const rounds = 3
	var both []string
	for seed := range rounds {
		id, _ := publish(t, ctx, s, scene, publisher.Request{Frames: "1-4", Width: 32, Height: 18, Samples: 1, Replicas: 2, Seed: seed})
		ga, err := a.Lease(ctx, pub, id)
		if err != nil || ga == nil {
			t.Fatalf("round %d: first identity got no lease: %v", seed, err)
		}
		gb, err := b.Lease(ctx, pub, id)
		if err != nil || gb == nil {
			t.Fatalf("round %d: second identity got no lease: %v", seed, err)
		}
		if ga.Task == gb.Task {
			both = append(both, fmt.Sprintf("frame %d of job %d (leases %s and %s)", ga.Task.Frame, seed, ga.Lease, gb.Lease))
		}
	}
	if len(both) > 0 {
		t.Errorf("two identities asking back to back held both replicas of a task in %d of %d jobs: %v", len(both), rounds, both)
	}
}

// Two identities that render honestly but claim credits.MaxMilliCU for
// every render are paid at most 2× the publisher's own price of a task.
func TestAttackInflatedClaimsCapped(t *testing.T) {
	s, scene, ctx := testSwarm(t, 1, nil)
	id, m := publish(t, ctx, s, scene, publisher.Request{Frames: "1-2", Width: 64, Height: 36, Samples: 4, Replicas: 2})
	inflate := adversary.Behavior{Claim: credits.MaxMilliCU}
	inflaters := map[peer.ID]bool{}
	for range 2 {
		p := startAdversary(t, ctx, s, false)
		inflaters[p.ID()] = true
		goWork(t, ctx, p, s, id, inflate)
	}
	if err := waitDone(ctx, s.nodes[0].pub, id, nil); err != nil {
		t.Fatal(err)
	}
	st, _ := s.nodes[0].pub.Status(id)
	if st.Price <= 0 {
		t.Fatalf("the job has no price: %+v", st)
	}
	ceiling := 2 * st.Price
	rs := waitReceiptsFor(t, s, id, m, 2)
	if len(rs) == 0 {
		t.Fatal("no receipts: the test proves nothing")
	}
	credited := map[job.Task]int{}
	for _, r := range rs {
		credited[r.Task]++
		if inflaters[r.Counterpart] && r.CU > ceiling {
			t.Errorf("inflater %s was paid %d mCU for frame %d; the ceiling is %d mCU (2× the publisher's price)",
				r.Counterpart, r.CU, r.Task.Frame, ceiling)
		}
	}
	// An accepted task is credited, whatever was claimed for the others.
	for _, task := range m.Tasks(id) {
		if credited[task] < 2 {
			t.Errorf("accepted frame %d has %d receipt(s), want 2: it was never credited", task.Frame, credited[task])
		}
	}
}

// A volunteer with a good record that is caught cheating — outvoted 2-to-1,
// or refuted by the publisher's crop check — is back on probation at that
// publisher: on its next job there every result it delivers is
// replicated.
func TestAttackCaughtPeerBackOnProbation(t *testing.T) {
	s, scene, ctx := testSwarm(t, 3, nil)
	// Every cheater has its record before the publisher first looks at
	// standings (it caches them for half a minute).
	lazy := startAdversary(t, ctx, s, false)
	pair := []*adversary.Peer{startAdversary(t, ctx, s, false), startAdversary(t, ctx, s, false)}
	for _, p := range append([]*adversary.Peer{lazy}, pair...) {
		establish(t, s, p.ID())
	}

	// jobB publishes a job with adaptive replication while the honest
	// volunteers are paused, lets the cheaters render every task they can
	// honestly, resumes the volunteers, and checks that none of the
	// cheaters' results was accepted on its own.
	jobB := func(t *testing.T, cheaters []*adversary.Peer, seed int) {
		pauseVolunteers(t, ctx, s, true)
		id, m := publish(t, ctx, s, scene, publisher.Request{Frames: "1-3", Width: 32, Height: 18, Samples: 1, Replicas: 1, Seed: seed})
		noWork := map[*adversary.Peer]int{}
		for _, c := range cheaters {
			noWork[c] = c.Stats().NoWork
			goWork(t, ctx, c, s, id, adversary.Behavior{MaxLeases: 3})
		}
		delivered := func() int {
			n := 0
			for _, c := range cheaters {
				n += countJob(c.Stats().Delivered, id)
			}
			return n
		}
		// Each cheater delivers until the publisher has nothing for it: a
		// task replicated for it waits for a second peer, which is paused.
		waitFor(30*time.Second, func() bool {
			idle := true
			for _, c := range cheaters {
				idle = idle && c.Stats().NoWork > noWork[c]
			}
			return idle || delivered() >= len(m.Tasks(id))
		})
		if delivered() == 0 {
			t.Fatalf("the cheaters delivered nothing in the next job: the test proves nothing (%+v)", cheaters[0].Stats().Refusals)
		}
		pauseVolunteers(t, ctx, s, false)
		if err := waitDone(ctx, s.nodes[0].pub, id, nil); err != nil {
			t.Fatal(err)
		}
		byTask := map[job.Task][]peer.ID{}
		for _, r := range waitReceiptsFor(t, s, id, m, 1) {
			byTask[r.Task] = append(byTask[r.Task], r.Counterpart)
		}
		for _, c := range cheaters {
			for _, task := range c.Stats().Delivered {
				if task.Job.Equals(id) && len(byTask[task]) < 2 {
					t.Errorf("next job: frame %d was accepted on cheater %s's result alone (receipts to %v): it is not back on probation",
						task.Frame, c.ID(), byTask[task])
				}
			}
		}
	}

	t.Run("outvoted 2 to 1", func(t *testing.T) {
		pauseVolunteers(t, ctx, s, true) // the lazy volunteer gets a replica first
		id, m := publish(t, ctx, s, scene, publisher.Request{Frames: "1-3", Width: 64, Height: 36, Samples: 4, Replicas: 2, Seed: 1})
		work, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { lazy.Work(work, s.nodes[0].net.ID(), id, adversary.Behavior{Render: adversary.RenderLazy}) })
		waitFor(30*time.Second, func() bool { return countJob(lazy.Stats().Leased, id) > 0 })
		pauseVolunteers(t, ctx, s, false)
		if err := waitDone(ctx, s.nodes[0].pub, id, nil); err != nil {
			t.Fatal(err)
		}
		stop()
		wg.Wait()
		if countJob(lazy.Stats().Delivered, id) == 0 {
			t.Fatal("the lazy volunteer delivered nothing in the first job: the test proves nothing")
		}
		for _, r := range waitReceiptsFor(t, s, id, m, 2) {
			if r.Counterpart == lazy.ID() {
				t.Fatalf("the lazy volunteer's render of frame %d was accepted: it was not outvoted", r.Task.Frame)
			}
		}
		jobB(t, []*adversary.Peer{lazy}, 2)
	})

	t.Run("refuted by a crop check", func(t *testing.T) {
		ring := adversary.NewRing()
		pauseVolunteers(t, ctx, s, true)
		id, m := publish(t, ctx, s, scene, publisher.Request{Frames: "1-2", Width: 64, Height: 36, Samples: 4, Replicas: 2, Seed: 3})
		work, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for _, p := range pair {
			wg.Go(func() {
				p.Work(work, s.nodes[0].net.ID(), id, adversary.Behavior{Render: adversary.RenderWrong, Ring: ring})
			})
		}
		// The pair renders what it can; then the honest volunteers finish
		// the job.
		waitFor(30*time.Second, func() bool {
			return pair[0].Stats().NoWork > 0 && pair[1].Stats().NoWork > 0 || jobDone(s, id)
		})
		pauseVolunteers(t, ctx, s, false)
		if err := waitDone(ctx, s.nodes[0].pub, id, nil); err != nil {
			t.Fatal(err)
		}
		stop()
		wg.Wait()
		if countJob(pair[0].Stats().Delivered, id)+countJob(pair[1].Stats().Delivered, id) == 0 {
			t.Fatal("the colluders delivered nothing in the first job: the test proves nothing")
		}
		// An established pair that never met may pass one shared task
		// unchecked (publisher.pairMeetings); from their second, every
		// shared task is crop-checked and they are caught.
		wrong := map[job.Task]bool{}
		for _, r := range waitReceiptsFor(t, s, id, m, 2) {
			if r.Counterpart == pair[0].ID() || r.Counterpart == pair[1].ID() {
				wrong[r.Task] = true
				t.Logf("the colluders' wrong image of frame %d was accepted and paid to %s", r.Task.Frame, r.Counterpart)
			}
		}
		if len(wrong) > 1 {
			t.Errorf("the colluders had %d wrong frames accepted; an established pair passes at most one before it is caught", len(wrong))
		}
		jobB(t, pair, 4)
	})
}

// When the publisher's crop render errors, agreeing results are not
// accepted on their agreement alone: two colluders delivering the same
// wrong image are not accepted while every crop render of their task
// fails.
func TestAttackCropCheckFailsOpen(t *testing.T) {
	crops := &failingCrops{tries: map[int]int{}}
	s, scene, ctx := testSwarm(t, 1, func(_ int, cfg *Config) {
		cfg.publisherRenderer = func(b render.Backend) render.Backend { return crops.wrap(b) }
	})
	id, _ := publish(t, ctx, s, scene, publisher.Request{Frames: "1-2", Width: 32, Height: 18, Samples: 1, Replicas: 2})
	ring := adversary.NewRing()
	for range 2 {
		goWork(t, ctx, startAdversary(t, ctx, s, false), s, id, adversary.Behavior{Render: adversary.RenderWrong, Ring: ring})
	}
	// A frame whose crop render was tried is decided once the verifier
	// has moved on to the next one: wait until both were tried, looking
	// for an acceptance all along.
	deadline := time.Now().Add(60 * time.Second)
	for settled := false; !settled; {
		tried := crops.tried()
		settled = len(tried) == 2
		frames, err := s.nodes[0].pub.Frames(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range frames {
			if f.State == scheduler.TaskVerified && tried[f.Frame] > 0 {
				t.Fatalf("frame %d was accepted on the colluders' agreement alone: its crop render failed %d time(s)", f.Frame, tried[f.Frame])
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s crop renders were tried for frames %v (want 1 and 2); frames %+v", tried, frames)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// failingCrops is a publisher's renderer whose every crop (border)
// render fails, counting the tries per frame — all but the first, the
// calibration render that prices the job.
type failingCrops struct {
	mu         sync.Mutex
	calibrated bool
	tries      map[int]int
}

func (f *failingCrops) wrap(b render.Backend) render.Backend { return cropFailer{b, f} }

func (f *failingCrops) tried() map[int]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[int]int{}
	for k, v := range f.tries {
		out[k] = v
	}
	return out
}

type cropFailer struct {
	render.Backend
	f *failingCrops
}

func (c cropFailer) Render(ctx context.Context, t render.Task, progress func(render.Progress)) (render.Result, error) {
	if t.Border == nil {
		return c.Backend.Render(ctx, t, progress)
	}
	c.f.mu.Lock()
	first := !c.f.calibrated
	c.f.calibrated = true
	if !first {
		c.f.tries[t.Frame]++
	}
	c.f.mu.Unlock()
	if first {
		return c.Backend.Render(ctx, t, progress)
	}
	return render.Result{}, errors.New("crop render: out of memory")
}

// countJob counts the tasks of job id in ts.
func countJob(ts []job.Task, id cid.Cid) int {
	n := 0
	for _, t := range ts {
		if t.Job.Equals(id) {
			n++
		}
	}
	return n
}

// jobDone reports whether a job of the swarm's publisher is decided.
func jobDone(s *swarm, id cid.Cid) bool {
	st, err := s.nodes[0].pub.Status(id)
	return err == nil && st.Done()
}

// An established volunteer that renders lazily once trusted is caught by
// the check replica another volunteer renders of its unreplicated result
// (a crop, chosen after it committed): none of its lazy frames is
// accepted, it is paid nothing for them, and it is struck.
func TestAttackEstablishedLazyCaughtByCheck(t *testing.T) {
	s, scene, ctx := testSwarm(t, 3, nil)
	lazy := startAdversary(t, ctx, s, false)
	establishAll(t, s, lazy.ID())
	// The lazy peer renders what it can while the honest volunteers are
	// paused: each of its results waits for another peer's check.
	pauseVolunteers(t, ctx, s, true)
	id, m := publish(t, ctx, s, scene, publisher.Request{Frames: "1-4", Width: 32, Height: 18, Samples: 4, Replicas: 1, Seed: 11})
	goWork(t, ctx, lazy, s, id, adversary.Behavior{Render: adversary.RenderLazy})
	waitFor(30*time.Second, func() bool {
		return lazy.Stats().NoWork > 0 || countJob(lazy.Stats().Delivered, id) == len(m.Tasks(id))
	})
	delivered := countJob(lazy.Stats().Delivered, id)
	if delivered == 0 {
		t.Fatalf("the lazy volunteer delivered nothing: the test proves nothing (%+v)", lazy.Stats().Refusals)
	}
	pauseVolunteers(t, ctx, s, false)
	if err := waitDone(ctx, s.nodes[0].pub, id, nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range waitReceiptsFor(t, s, id, m, 2) {
		if r.Counterpart == lazy.ID() {
			t.Errorf("the lazy volunteer was paid %d mCU for frame %d: its result was accepted", r.CU, r.Task.Frame)
		}
	}
	standings, err := s.nodes[0].ledger.Standings()
	if err != nil {
		t.Fatal(err)
	}
	if standings[lazy.ID()].LastStrike.IsZero() {
		t.Errorf("the lazy volunteer delivered %d lazy frames and was not struck", delivered)
	}
	for _, n := range s.nodes[1:] {
		if rec := standings[n.net.ID()]; !rec.LastStrike.IsZero() {
			t.Errorf("honest volunteer %s struck at %v", n.net.ID(), rec.LastStrike)
		}
	}
}
