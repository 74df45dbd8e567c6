package node

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/internal/adversary"
	"github.com/renderswarm/renderswarm/publisher"
	"github.com/renderswarm/renderswarm/work"
)

// Attacks on the work protocol itself: stalling, sabotage, squatting,
// junk deliveries, and a hostile publisher.

// stallBound is the longest a replica that committed may keep its task
// without delivering: the window a revealed replica has to deliver, plus
// time for the next volunteer to render the task again.
const stallBound = quickDeliverWindow + work.LeaseTTL + 10*time.Second

// A staller commits to its result and never delivers, renewing its lease:
// it cannot hold the task beyond stallBound; other volunteers finish it.
func TestAttackStallerCannotHoldTask(t *testing.T) {
	s, scene, ctx := testSwarm(t, 3, quickDeadlines)
	staller := startAdversary(t, ctx, s, false)
	pauseVolunteers(t, ctx, s, true) // the staller gets a replica first
	id, _ := publish(t, ctx, s, scene, publisher.Request{Frames: "1", Width: 32, Height: 18, Samples: 1, Replicas: 2})
	goWork(t, ctx, staller, s, id, adversary.Behavior{Stall: true, MaxLeases: 1})
	if !waitFor(30*time.Second, func() bool { return len(staller.Stats().Committed) > 0 }) {
		t.Fatalf("the staller never committed: the test proves nothing (%+v)", staller.Stats())
	}
	committed := time.Now()
	pauseVolunteers(t, ctx, s, false)
	if !waitFor(stallBound, func() bool { return jobDone(s, id) }) {
		st, _ := s.nodes[0].pub.Status(id)
		t.Fatalf("%v after the staller committed, the job is %s with %+v: the staller still holds its replica (%d renewals accepted, %d leases held)",
			time.Since(committed).Round(time.Second), st.State, st.Counts, staller.Stats().Renewed, staller.Stats().Held)
	}
	if err := waitDone(ctx, s.nodes[0].pub, id, nil); err != nil {
		t.Fatal(err)
	}
}

// Two fresh identities that report every task they lease as a failed
// render cannot fail a job: with first frames, today the first frame's two
// failures fail it and every other frame with it.
func TestAttackSaboteursCannotFailJob(t *testing.T) {
	s, scene, ctx := testSwarm(t, 3, nil)
	pauseVolunteers(t, ctx, s, true)
	id, _ := publish(t, ctx, s, scene, publisher.Request{Frames: "1-3", First: "1", Width: 32, Height: 18, Samples: 1, Replicas: 2})
	sabs := []*adversary.Peer{startAdversary(t, ctx, s, false), startAdversary(t, ctx, s, false)}
	for _, p := range sabs {
		goWork(t, ctx, p, s, id, adversary.Behavior{Sabotage: true})
	}
	if !waitFor(30*time.Second, func() bool { return len(sabs[0].Stats().Failed) > 0 && len(sabs[1].Stats().Failed) > 0 }) {
		t.Fatalf("the saboteurs did not both report a failure: the test proves nothing (%+v, %+v)", sabs[0].Stats(), sabs[1].Stats())
	}
	pauseVolunteers(t, ctx, s, false)
	if err := waitDone(ctx, s.nodes[0].pub, id, nil); err != nil {
		t.Fatalf("two fresh identities failed the job: %v (the saboteurs reported frames %s and %s as failed renders)",
			err, tasksString(sabs[0].Stats().Failed), tasksString(sabs[1].Stats().Failed))
	}
}

// A fresh identity that takes every lease the publisher grants, renewing
// them and rendering nothing, holds at most one active lease of a job.
func TestAttackSquatterHoldsOneLease(t *testing.T) {
	s, scene, ctx := testSwarm(t, 1, nil)
	squatter := startAdversary(t, ctx, s, false)
	id, _ := publish(t, ctx, s, scene, publisher.Request{Frames: "1-4", Width: 32, Height: 18, Samples: 1, Replicas: 2})
	goWork(t, ctx, squatter, s, id, adversary.Behavior{Squat: true})
	// Squatting: asked until the publisher had nothing more, and renewed
	// what it holds.
	if !waitFor(30*time.Second, func() bool {
		st := squatter.Stats()
		return st.NoWork > 0 && st.Renewed >= st.Held
	}) {
		t.Fatalf("the squatter did not settle: %+v", squatter.Stats())
	}
	if st := squatter.Stats(); st.Held > 1 {
		t.Errorf("one fresh identity holds %d active leases of the job (frames %s; %d renewals accepted); want at most 1",
			st.Held, tasksString(st.Leased), st.Renewed)
	}
}

// An established peer that takes a job's only frame and renews its lease
// with made-up progress (99 % done at its first renewal, and no
// commitment ever) does not hold the frame until the lease's limit (the job's time limit per
// frame plus ten minutes): once the render is late by what it claims, an
// idle volunteer races it, and the job ends.
func TestAttackFakeProgressDoesNotHoldLastFrame(t *testing.T) {
	s, scene, ctx := testSwarm(t, 3, nil)
	squatter := startAdversary(t, ctx, s, false)
	establishAll(t, s, squatter.ID())
	pauseVolunteers(t, ctx, s, true)
	id, _ := publish(t, ctx, s, scene, publisher.Request{Frames: "1", Width: 320, Height: 180, Samples: 16, Replicas: 1})
	goWork(t, ctx, squatter, s, id, adversary.Behavior{Squat: true, MaxLeases: 1, Progress: 0.99})
	if !waitFor(30*time.Second, func() bool { st := squatter.Stats(); return st.Held == 1 && st.Renewed > 0 }) {
		t.Fatalf("the squatter holds no lease it renewed: %+v", squatter.Stats())
	}
	pauseVolunteers(t, ctx, s, false)
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := waitDone(wctx, s.nodes[0].pub, id, nil); err != nil {
		t.Fatalf("the job's only frame, held with made-up progress, was not rendered by the idle volunteers: %v (squatter %+v)", err, squatter.Stats())
	}
	if !waitFor(2*work.RenewEvery, func() bool { return squatter.Stats().Lost > 0 }) {
		t.Errorf("the squatter's lease was not withdrawn: %+v", squatter.Stats())
	}
}

// A delivery for a lease the peer does not hold, or far larger than a
// result of the task can be, is refused before a byte of it crosses.
func TestAttackJunkDeliveryRefusedBeforeFetch(t *testing.T) {
	s, scene, ctx := testSwarm(t, 1, nil)
	pub := s.nodes[0].net.ID()
	holder, junk := startAdversary(t, ctx, s, false), startAdversary(t, ctx, s, false)
	id, _ := publish(t, ctx, s, scene, publisher.Request{Frames: "1-2", Width: 32, Height: 18, Samples: 1, Replicas: 2})
	held, err := holder.Lease(ctx, pub, id)
	if err != nil || held == nil {
		t.Fatalf("no lease for the holder: %v", err)
	}
	own, err := junk.Lease(ctx, pub, id)
	if err != nil || own == nil {
		t.Fatalf("no lease for the junk deliverer: %v", err)
	}
	for _, tc := range []struct {
		name string
		ref  work.Ref
		size int
	}{
		{"another peer's lease", held.Ref, 64 << 10},
		{"a made-up lease", work.Ref{Job: id, Lease: "not-a-lease"}, 64 << 10},
		{"its own lease, 8 MiB for a 32x18 frame", own.Ref, 8 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dctx, cancel := context.WithTimeout(ctx, 40*time.Second)
			defer cancel()
			sent, err := junk.DeliverJunk(dctx, pub, tc.ref, tc.size, 1)
			if err == nil {
				t.Errorf("the delivery of %d junk bytes was accepted", tc.size)
			}
			if sent > 0 {
				t.Errorf("the publisher took %d bytes of the %d-byte junk delivery before answering: %v", sent, tc.size, err)
			}
			t.Logf("refused: %v", err)
		})
	}
}

// hostileBound is how long a volunteer may wait for the scene of a job
// that nobody seeds before it gives the lease back.
const hostileBound = 60 * time.Second

// A hostile publisher grants a lease of a job whose scene nobody seeds and
// answers every renewal: the volunteer gives the lease back within
// hostileBound instead of fetching forever.
func TestAttackHostilePublisherCannotStallVolunteer(t *testing.T) {
	s, _, ctx := testSwarm(t, 2, nil)
	h := startAdversary(t, ctx, s, false)
	hostile, err := h.ServeHostileJob("1-3")
	if err != nil {
		t.Fatal(err)
	}
	// Gossip is lossy: announce until the volunteer takes the bait.
	leased := func(c adversary.HostileCalls) bool { return c.Leases > 0 }
	for i := 0; !leased(hostile.Calls()); i++ {
		if i == 30 {
			t.Fatal("the volunteer never asked the hostile publisher for work in 30s")
		}
		if err := hostile.Announce(ctx); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		hostile.Wait(wctx, leased)
		cancel()
	}
	wctx, cancel := context.WithTimeout(ctx, hostileBound)
	defer cancel()
	calls, ok := hostile.Wait(wctx, func(c adversary.HostileCalls) bool { return c.Fails+c.Releases > 0 })
	if !ok {
		var doing []string
		for _, r := range activityOf(s.nodes[1]).Renders {
			doing = append(doing, fmt.Sprintf("frame %d of %q: %s since %v", r.Frame, r.Title, r.Phase, time.Since(r.Started).Round(time.Second)))
		}
		t.Fatalf("%v after the hostile publisher's lease, the volunteer still works on it: %d renewals answered, no hand-back; it is doing %v",
			time.Since(calls.FirstLease).Round(time.Second), calls.Renewals, doing)
	}
	t.Logf("the volunteer gave the lease back after %v: %q", time.Since(calls.FirstLease).Round(time.Second), calls.LastReason)
}

// A publisher floods the jobs topic with a thousand jobs: every node
// forwards and keeps only its announcement budget's worth, the volunteers'
// offer books hold at most work.MaxOffersPerPublisher of its jobs, and an
// honest publisher's job published meanwhile is rendered.
func TestAttackAnnouncementFloodIsBounded(t *testing.T) {
	s, scene, ctx := testSwarm(t, 3, nil)
	h := startAdversary(t, ctx, s, false)
	hostile, err := h.ServeHostileJob("1-3")
	if err != nil {
		t.Fatal(err)
	}
	// The adversary joins the topic's mesh first.
	for i := 0; len(s.nodes[0].net.TopicPeers(work.JobsTopic)) < 3; i++ {
		if i == 100 {
			t.Fatal("the adversary did not join the jobs topic in 10s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	const flood = 1000
	if err := hostile.Flood(ctx, flood); err != nil {
		t.Fatal(err)
	}
	id, err := s.nodes[0].pub.Publish(ctx, publisher.Request{Scene: scene, Frames: "1-4", Width: 48, Height: 27, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := waitDone(ctx, s.nodes[0].pub, id, nil); err != nil {
		t.Fatalf("the honest job during the flood: %v", err)
	}
	for _, n := range s.nodes[1:] {
		offers := 0
		for _, o := range n.vol.Offers() {
			if o.Manifest.Publisher == h.ID() {
				offers++
			}
		}
		t.Logf("a volunteer holds %d offers of the %d jobs flooded", offers, flood)
		if offers > work.MaxOffersPerPublisher {
			t.Errorf("a volunteer holds %d offers of the flooding publisher, want at most %d", offers, work.MaxOffersPerPublisher)
		}
	}
}
