package volunteer

import (
	"bytes"
	"fmt"
	"image/png"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/internal/clock"
	"github.com/renderswarm/renderswarm/internal/roletest"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/p2p"
	"github.com/renderswarm/renderswarm/render/builtin"
	"github.com/renderswarm/renderswarm/work"
)

// The tests in this file play a publisher against a volunteer with fakes
// of the work protocol and the gossip (fakes_test.go) and of the asset
// store (roletest), and a clock they move by hand.

// A volunteer renders with a heartbeat that carries its progress; paused,
// it hands its lease back (released, not failed) and takes no new lease
// however long it waits; resumed, it asks again.
func TestHeartbeatPauseAndResume(t *testing.T) {
	swarm := roletest.NewSwarm(t)
	info := builtinInfo(t)
	o := newOffer(t, swarm, info.Version)
	pub := newPublisher(o.grant("l1", 1))
	news := gossip{in: make(chan p2p.Message, 4)}
	rendering := make(chan struct{}, 1)
	fake := clock.NewFake(time.Unix(1_800_000_000, 0))
	v := startVolunteer(t, pub, news, swarm, stuck{builtin.New(), rendering}, info.Version, fake)

	news.in <- p2p.Message{From: o.pub, Data: o.announced}
	if c := pub.next(t); c.op != "lease" || c.ref.Job != o.id {
		t.Fatalf("first call %+v, want a lease of the announced job", c)
	}
	select {
	case <-rendering:
	case <-time.After(10 * time.Second):
		t.Fatal("the leased task is not rendering")
	}
	for range 2 {
		fake.Advance(work.RenewEvery)
		if c := pub.next(t); c.op != "renew" || c.ref.Lease != "l1" || c.progress != 0.5 {
			t.Fatalf("heartbeat %+v, want renew of l1 at progress 0.5", c)
		}
	}

	s := v.Settings()
	s.Paused = true
	v.ApplySettings(s)
	if c := pub.next(t); c.op != "release" || c.ref.Lease != "l1" {
		t.Fatalf("after pausing: %+v, want the lease released", c)
	}
	// Settled: the work loop, the gate's enforcer and the receipt collector
	// wait on the clock, and nothing else does.
	const loops = 3
	deadline := time.Now().Add(10 * time.Second)
	for fake.Waiters() != loops || len(v.Activity().Renders) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not settled after pausing: %d timers, %d renders", fake.Waiters(), len(v.Activity().Renders))
		}
		time.Sleep(time.Millisecond)
	}
	if a := v.Activity(); a.State != StatePaused {
		t.Fatalf("state while paused = %q", a.State)
	}
	for range 10 * time.Minute / gateEvery {
		fake.Advance(gateEvery)
		if !fake.BlockUntil(loops, 10*time.Second) {
			t.Fatal("the volunteer's loops did not come back to the clock")
		}
	}
	pub.none(t)

	news.in <- p2p.Message{From: o.pub, Data: o.announced} // announced again meanwhile
	taken := time.Now().Add(10 * time.Second)
	for offers := v.Offers(); len(offers) != 1 || !offers[0].Seen.Equal(fake.Now()); offers = v.Offers() {
		if time.Now().After(taken) {
			t.Fatal("the announcement was not taken")
		}
		time.Sleep(time.Millisecond)
	}
	s.Paused = false
	v.ApplySettings(s)
	if c := pub.next(t); c.op != "lease" {
		t.Fatalf("after resuming: %+v, want a lease request", c)
	}
}

// Two announcements of one job may arrive out of order: the older one
// never overrides the newer.
func TestOlderAnnouncementIgnored(t *testing.T) {
	swarm := roletest.NewSwarm(t)
	o := newOffer(t, swarm, "1")
	_, self := roletest.Identity(t)
	ledger, _ := roletest.Ledger(t, self)
	book := newOfferBook(self, newPicker(Settings{}, self, map[string]string{builtin.Name: "1"}, ledger, clock.Real{}))
	_, sm, err := job.OpenManifest(o.signed)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	book.add(work.Announcement{Manifest: o.signed, State: "running", TasksLeft: 3, Seq: 20}, o.m, sm, now)
	book.add(work.Announcement{Manifest: o.signed, State: "paused", TasksLeft: 3, Seq: 10}, o.m, sm, now)
	if got := book.list(now); len(got) != 1 || got[0].State != "running" {
		t.Fatalf("offers %+v, want the job running", got)
	}
	if len(book.candidates(now)) != 1 {
		t.Fatal("the running job is not a candidate")
	}
	book.add(work.Announcement{Manifest: o.signed, State: "paused", TasksLeft: 3, Seq: 30}, o.m, sm, now)
	if got := book.list(now); got[0].State != "paused" || len(book.candidates(now)) != 0 {
		t.Fatalf("a newer pause was not taken: %+v", got)
	}
}

// A publisher that leases a scene nobody seeds, and answers every
// heartbeat, holds the volunteer only until the scene's fetch deadline: the
// lease is handed back as failed and the publisher left alone for a while.
func TestUnseededSceneDoesNotFreezeTheVolunteer(t *testing.T) {
	swarm := roletest.NewSwarm(t)
	info := builtinInfo(t)
	o := newOffer(t, roletest.NewSwarm(t), info.Version) // its scene is in another swarm
	pub := newPublisher(o.grant("l1", 1))
	news := gossip{in: make(chan p2p.Message, 4)}
	fake := clock.NewFake(time.Unix(1_800_000_000, 0))
	v := startVolunteer(t, pub, news, swarm, builtin.New(), info.Version, fake)

	news.in <- p2p.Message{From: o.pub, Data: o.announced}
	if c := pub.next(t); c.op != "lease" {
		t.Fatalf("first call %+v, want a lease", c)
	}
	// Fetching: the fetch deadline, the heartbeat, the gate's enforcer, the
	// receipt collector and the work loop's first idle timer (due at once,
	// fired by the first Advance) wait on the clock. Four of them are there
	// before the fetch starts.
	if !fake.BlockUntil(5, 10*time.Second) {
		t.Fatalf("the fetch did not start: %d timers", fake.Waiters())
	}
	for i := 0; i < int(findScene/work.RenewEvery)-1; i++ {
		fake.Advance(work.RenewEvery)
		if c := pub.next(t); c.op != "renew" {
			t.Fatalf("while fetching: %+v, want a heartbeat", c)
		}
	}
	fake.Advance(work.RenewEvery) // findScene is over
	for {
		c := pub.next(t)
		if c.op == "renew" {
			continue
		}
		if c.op != "fail" || c.ref.Lease != "l1" {
			t.Fatalf("after the fetch deadline: %+v, want the lease handed back as failed", c)
		}
		break
	}
	// The lease leaves the activity once the hand-back call returns.
	for deadline := time.Now().Add(10 * time.Second); len(v.Activity().Renders) != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("10 s after handing it back, still holding %d leases", len(v.Activity().Renders))
		}
	}
	// The publisher is left alone for a while, even when its job is
	// announced again.
	news.in <- p2p.Message{From: o.pub, Data: o.announced}
	fake.Advance(pubBackOff - time.Second)
	if !fake.BlockUntil(3, 10*time.Second) {
		t.Fatal("the volunteer's loops did not come back to the clock")
	}
	for {
		select {
		case c := <-pub.calls:
			if c.op == "lease" {
				t.Fatalf("asked the failing publisher again within its back-off")
			}
			continue
		default:
		}
		break
	}
}

// One publisher's announcements cannot fill the offer book: it keeps
// work.MaxOffersPerPublisher of each publisher's jobs, the ones heard of
// latest, and every other publisher's offers stay.
func TestOfferBookBoundedPerPublisher(t *testing.T) {
	swarm := roletest.NewSwarm(t)
	_, self := roletest.Identity(t)
	ledger, _ := roletest.Ledger(t, self)
	book := newOfferBook(self, newPicker(Settings{}, self, map[string]string{builtin.Name: "1"}, ledger, clock.Real{}))
	other := newOffer(t, swarm, "1")
	_, osm, err := job.OpenManifest(other.signed)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	book.add(work.Announcement{Manifest: other.signed, State: "running", TasksLeft: 3}, other.m, osm, now)
	flood := newOffer(t, swarm, "1")
	const jobs = 3 * work.MaxOffersPerPublisher
	var last cid.Cid
	for i := range jobs {
		m := flood.m
		m.Title = fmt.Sprint("job ", i)
		sm, err := m.Sign(flood.key)
		if err != nil {
			t.Fatal(err)
		}
		signed, err := sm.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		book.add(work.Announcement{Manifest: signed, State: "running", TasksLeft: 3}, m, sm, now.Add(time.Duration(i)*time.Millisecond))
		last = sm.ID()
	}
	byPub := map[peer.ID]int{}
	newest := false
	for _, o := range book.list(now) {
		byPub[o.Manifest.Publisher]++
		newest = newest || o.ID == last
	}
	if byPub[flood.pub] != work.MaxOffersPerPublisher || byPub[other.pub] != 1 {
		t.Fatalf("offers by publisher %v after %d jobs of one; want %d of it and the other's one", byPub, jobs, work.MaxOffersPerPublisher)
	}
	if !newest {
		t.Error("the latest job announced is not in the book")
	}
	if n := len(book.candidates(now)); n != work.MaxOffersPerPublisher+1 {
		t.Errorf("%d candidates, want %d", n, work.MaxOffersPerPublisher+1)
	}
}

// A volunteer that no job has work for asks for a backup lease (a
// straggler's task to race) rather than idle, and renders and delivers it.
func TestIdleVolunteerTakesABackup(t *testing.T) {
	swarm := roletest.NewSwarm(t)
	info := builtinInfo(t)
	o := newOffer(t, swarm, info.Version)
	pub := newPublisher()
	pub.backups = []*work.Grant{o.grant("b1", 2)}
	news := gossip{in: make(chan p2p.Message, 4)}
	startVolunteer(t, pub, news, swarm, builtin.New(), info.Version, clock.NewFake(time.Unix(1_800_000_000, 0)))

	news.in <- p2p.Message{From: o.pub, Data: o.announced}
	var ops []string
	for len(ops) < 4 {
		c := pub.next(t)
		if c.op == "renew" {
			continue
		}
		ops = append(ops, c.op+" "+c.ref.Lease)
	}
	if want := "lease ,backup ,commit b1,deliver b1"; strings.Join(ops, ",") != want {
		t.Fatalf("calls %q, want %q", strings.Join(ops, ","), want)
	}
}

// A volunteer the publisher lets hold two uncommitted leases asks for its
// next task while its commitment to the last one is on its way; the
// commitment is still made, with the result for the publisher to take at
// once, and the result delivered once answered.
func TestCommitsOverlapTheNextLeaseWithSlots(t *testing.T) {
	swarm := roletest.NewSwarm(t)
	info := builtinInfo(t)
	o := newOffer(t, swarm, info.Version)
	g1, g2 := o.grant("l1", 1), o.grant("l2", 2)
	g1.Slots, g2.Slots = 2, 2
	pub := newPublisher(g1, g2)
	pub.held = make(chan struct{})
	news := gossip{in: make(chan p2p.Message, 4)}
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	v := startVolunteer(t, pub, news, swarm, builtin.New(), info.Version, clk)
	if _, ok := v.Preview(); ok {
		t.Fatal("a preview before anything was delivered")
	}

	news.in <- p2p.Message{From: o.pub, Data: o.announced}
	var ops []string
	withResult := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for len(ops) < 4 && time.Now().Before(deadline) {
		select {
		case c := <-pub.calls:
			if c.op != "renew" {
				ops = append(ops, c.op+" "+c.ref.Lease)
			}
			if c.op == "commit" {
				withResult[c.ref.Lease] = c.withResult
			}
		case <-time.After(20 * time.Millisecond):
			clk.Advance(time.Millisecond) // the work loop's next pass is due at once
		}
	}
	// l1's commitment is unanswered: the second lease came meanwhile, and
	// l2 was committed at once (one slot stays for a lease).
	slices.Sort(ops)
	if want := "commit l1,commit l2,lease ,lease "; strings.Join(ops, ",") != want {
		t.Fatalf("calls %q while l1's commitment was unanswered, want %q", strings.Join(ops, ","), want)
	}
	// The commitment made in the background carried its small result, to
	// be taken at once if it may be revealed; the one made at once did
	// not (the next lease waited for it).
	if !withResult["l1"] || withResult["l2"] {
		t.Fatalf("commitments with their results: %v; want l1's alone", withResult)
	}
	close(pub.held)
	delivered := map[string]bool{}
	for len(delivered) < 2 {
		if c := pub.next(t); c.op == "deliver" {
			delivered[c.ref.Lease] = true
		}
	}
	// The web app's preview is the last delivered frame.
	deadline = time.Now().Add(10 * time.Second)
	for {
		if b, ok := v.Preview(); ok {
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil || img.Bounds().Dx() != 32 || img.Bounds().Dy() != 18 {
				t.Fatalf("preview: %v, %v; want the 32x18 frame", img.Bounds(), err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no preview after two deliveries")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A publisher of an earlier version refuses a commitment sent with its
// result (it takes a delivery only after a commitment): the volunteer then
// commits and delivers in two exchanges, and the result is delivered.
func TestCommitThenDeliverToAnEarlierPublisher(t *testing.T) {
	swarm := roletest.NewSwarm(t)
	info := builtinInfo(t)
	o := newOffer(t, swarm, info.Version)
	g1 := o.grant("l1", 1)
	g1.Slots = 2
	pub := newPublisher(g1)
	pub.earlier = true
	news := gossip{in: make(chan p2p.Message, 4)}
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	startVolunteer(t, pub, news, swarm, builtin.New(), info.Version, clk)

	news.in <- p2p.Message{From: o.pub, Data: o.announced}
	var ops []string
	deadline := time.Now().Add(10 * time.Second)
	for len(ops) < 3 && time.Now().Before(deadline) {
		select {
		case c := <-pub.calls:
			if c.ref.Lease == "l1" && c.op != "renew" {
				ops = append(ops, c.op)
			}
		case <-time.After(20 * time.Millisecond):
			clk.Advance(time.Millisecond)
		}
	}
	if want := "deliver,commit,deliver"; strings.Join(ops, ",") != want {
		t.Fatalf("calls for l1 %q, want %q (refused, then commit and deliver)", strings.Join(ops, ","), want)
	}
}
