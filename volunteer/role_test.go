package volunteer

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/examples"
	"github.com/renderswarm/renderswarm/internal/clock"
	"github.com/renderswarm/renderswarm/internal/roletest"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/p2p"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/render/builtin"
	"github.com/renderswarm/renderswarm/work"
)

// The tests in this file play a publisher against a volunteer with fakes
// of the work protocol, the gossip and the asset store, and a clock they
// move by hand.

// call is one request the fake publisher received.
type call struct {
	op       string
	ref      work.Ref
	progress float64
}

// publisher is a fake publisher: it grants its leases in order, then has
// no work; it records every call.
type publisher struct {
	mu      sync.Mutex
	grants  []*work.Grant
	backups []*work.Grant // granted to Backup; with none, Backup is not recorded
	calls   chan call
	held    chan struct{} // when set, Commit answers once it is closed
}

func newPublisher(grants ...*work.Grant) *publisher {
	return &publisher{grants: grants, calls: make(chan call, 1000)}
}

// Backup grants the backups in order, then has no straggler to offer.
func (p *publisher) Backup(_ context.Context, _ peer.ID, id cid.Cid, _ map[string]string) (work.LeaseAnswer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.backups) == 0 {
		return work.LeaseAnswer{Retry: work.RetryNoWork}, nil
	}
	p.calls <- call{op: "backup", ref: work.Ref{Job: id}}
	g := p.backups[0]
	p.backups = p.backups[1:]
	return work.LeaseAnswer{Grant: g}, nil
}

func (p *publisher) Lease(_ context.Context, _ peer.ID, id cid.Cid, _ map[string]string) (work.LeaseAnswer, error) {
	p.calls <- call{op: "lease", ref: work.Ref{Job: id}}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.grants) == 0 {
		return work.LeaseAnswer{Retry: work.RetryNoWork}, nil
	}
	g := p.grants[0]
	p.grants = p.grants[1:]
	return work.LeaseAnswer{Grant: g}, nil
}

func (p *publisher) Renew(_ context.Context, _ peer.ID, ref work.Ref, progress float64) (time.Time, error) {
	p.calls <- call{op: "renew", ref: ref, progress: progress}
	return time.Time{}, nil
}

func (p *publisher) Commit(ctx context.Context, _ peer.ID, ref work.Ref, _ job.Commitment) (bool, error) {
	p.calls <- call{op: "commit", ref: ref}
	if p.held != nil {
		select {
		case <-p.held:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	return true, nil
}

func (p *publisher) Await(_ context.Context, _ peer.ID, ref work.Ref) (bool, error) {
	p.calls <- call{op: "await", ref: ref}
	return true, nil
}

func (p *publisher) Deliver(_ context.Context, _ peer.ID, d work.Delivery, png io.Reader, size int64) error {
	p.calls <- call{op: "deliver", ref: d.Ref}
	_, err := io.Copy(io.Discard, io.LimitReader(png, size))
	return err
}

func (p *publisher) Fail(_ context.Context, _ peer.ID, ref work.Ref, _ string) error {
	p.calls <- call{op: "fail", ref: ref}
	return nil
}

func (p *publisher) Release(_ context.Context, _ peer.ID, ref work.Ref) error {
	p.calls <- call{op: "release", ref: ref}
	return nil
}

func (p *publisher) Receipts(context.Context, peer.ID) ([]credits.SignedReceipt, error) {
	return nil, nil
}

func (p *publisher) Countersign(context.Context, peer.ID, ...credits.SignedReceipt) error { return nil }

// next waits (bounded) for the publisher's next call.
func (p *publisher) next(t *testing.T) call {
	t.Helper()
	select {
	case c := <-p.calls:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("the publisher heard nothing in 10s")
		return call{}
	}
}

// none checks that the publisher was asked nothing more.
func (p *publisher) none(t *testing.T) {
	t.Helper()
	select {
	case c := <-p.calls:
		t.Fatalf("unexpected %s", c.op)
	default:
	}
}

// gossip delivers the announcements the test sends.
type gossip struct{ in chan p2p.Message }

func (g gossip) Subscribe(ctx context.Context, _ string, handle func(p2p.Message)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-g.in:
			handle(m)
		}
	}
}

// stuck reports half its work done, tells the test, and renders nothing
// until it is stopped.
type stuck struct {
	render.Backend
	rendering chan struct{}
}

func (s stuck) Render(ctx context.Context, _ render.Task, progress func(render.Progress)) (render.Result, error) {
	progress(render.Progress{Fraction: 0.5})
	s.rendering <- struct{}{}
	<-ctx.Done()
	return render.Result{}, context.Cause(ctx)
}

// startVolunteer runs a volunteer of its own identity until the test
// ends: it hears news, works for pub, renders with backend (of version)
// and keeps time by clk.
func startVolunteer(t *testing.T, pub *publisher, news gossip, swarm *roletest.Swarm, backend render.Backend, version string, clk clock.Clock) *Volunteer {
	t.Helper()
	key, self := roletest.Identity(t)
	ledger, _ := roletest.Ledger(t, self)
	v, err := New(Config{
		Key: key, Publishers: pub, Gossip: news, Assets: swarm.Store(), Ledger: ledger,
		Backends: map[string]render.Backend{builtin.Name: backend},
		Versions: map[string]string{builtin.Name: version},
		WorkDir:  t.TempDir(), Clock: clk, Logger: (&roletest.Log{}).Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); v.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return v
}

// builtinInfo is the built-in renderer's name and version, as a volunteer
// offers it.
func builtinInfo(t *testing.T) render.Info {
	t.Helper()
	info, err := builtin.New().Probe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// offer is a job of a fake publisher, its scene in the swarm.
type offer struct {
	key       crypto.PrivKey
	pub       peer.ID
	id        cid.Cid
	m         job.Manifest
	signed    []byte
	announced []byte
}

func newOffer(t *testing.T, swarm *roletest.Swarm, version string) offer {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "scene")
	if err := examples.WriteBuiltin(dir); err != nil {
		t.Fatal(err)
	}
	scene, err := swarm.Store().Add(t.Context(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	o := offer{}
	o.key, o.pub = roletest.Identity(t)
	frames, _ := job.ParseFrameSpec("1-3")
	o.m = job.Manifest{
		Version: job.FormatVersion, Publisher: o.pub, Created: 1_800_000_000,
		Renderer: job.Renderer{Name: builtin.Name, Version: version},
		Scene:    job.Scene{Asset: scene.CID, Main: examples.DemoScene},
		Frames:   frames, Width: 32, Height: 18, Samples: 1, Output: job.OutputPNG,
		Profile: job.DefaultProfile(builtin.Name), Replicas: 2,
		Limits: job.Limits{MaxSecondsPerFrame: 600, MaxMemoryMiB: 1024},
	}
	sm, err := o.m.Sign(o.key)
	if err != nil {
		t.Fatal(err)
	}
	o.id = sm.ID()
	if o.signed, err = sm.Marshal(); err != nil {
		t.Fatal(err)
	}
	o.announced, err = work.Encode(work.Announcement{Manifest: o.signed, State: "running", TasksLeft: 3})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (o offer) grant(lease string, frame int) *work.Grant {
	return &work.Grant{Ref: work.Ref{Job: o.id, Lease: lease}, Task: job.Task{Job: o.id, Frame: frame},
		Manifest: o.m, Signed: o.signed}
}

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
// commitment is still made, and the result delivered, once answered.
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
	deadline := time.Now().Add(10 * time.Second)
	for len(ops) < 4 && time.Now().Before(deadline) {
		select {
		case c := <-pub.calls:
			if c.op != "renew" {
				ops = append(ops, c.op+" "+c.ref.Lease)
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
