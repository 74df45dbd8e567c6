package publisher

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/examples"
	"github.com/renderswarm/renderswarm/internal/clock"
	"github.com/renderswarm/renderswarm/internal/roletest"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/render/builtin"
	"github.com/renderswarm/renderswarm/scheduler"
	"github.com/renderswarm/renderswarm/work"
)

// The tests in this file play volunteers against a publisher with fakes
// of its network and asset store, a real ledger and renderer, and a clock
// they move by hand.

// network records announcements; every peer is on loopback.
type network struct {
	mu        sync.Mutex
	announced []work.Announcement
}

func (n *network) Publish(_ context.Context, _ string, data []byte) error {
	var a work.Announcement
	if err := json.Unmarshal(data, &a); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.announced = append(n.announced, a)
	return nil
}

func (n *network) RemoteAddrs(peer.ID) []ma.Multiaddr { return nil }

// testbed is a publisher with one published job and the swarm its
// volunteers fetch from.
type testbed struct {
	t     testing.TB
	p     *Publisher
	clock *clock.Fake
	swarm *roletest.Swarm
	log   *roletest.Log
	scene string
}

// waitDone waits (at most 30 s) for job id to end and returns its status.
func (tb *testbed) waitDone(id cid.Cid) Status {
	tb.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := tb.p.Status(id)
		if err != nil {
			tb.t.Fatal(err)
		}
		if st.Done() {
			return st
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("job not done in 30s: %+v", st.Counts)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// newTestbed starts a publisher whose renderer is wrap(builtin), or the
// built-in renderer itself when wrap is nil.
func newTestbed(t testing.TB, wrap func(render.Backend) render.Backend) *testbed {
	t.Helper()
	key, self := roletest.Identity(t)
	ledger, d := roletest.Ledger(t, self)
	b := render.Backend(builtin.New())
	info, err := b.Probe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		b = wrap(b)
	}
	tb := &testbed{t: t, clock: clock.NewFake(time.Unix(1_800_000_000, 0)), swarm: roletest.NewSwarm(t), log: &roletest.Log{}}
	tb.p, err = New(t.Context(), Config{
		Key: key, DB: d, Assets: tb.swarm.Store(), Net: &network{}, Ledger: ledger,
		Backends: map[string]render.Backend{builtin.Name: b}, Infos: map[string]render.Info{builtin.Name: info},
		WorkDir: t.TempDir(), ResultsDir: t.TempDir(), Clock: tb.clock, Logger: tb.log.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "scene")
	if err := examples.WriteBuiltin(dir); err != nil {
		t.Fatal(err)
	}
	tb.scene = filepath.Join(dir, examples.DemoScene)
	return tb
}

// run runs the publisher until the test ends.
func (tb *testbed) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tb.p.Run(ctx)
	}()
	tb.t.Cleanup(func() { cancel(); <-done })
}

func (tb *testbed) publish(frames string, replicas int) job.Manifest {
	tb.t.Helper()
	id, err := tb.p.Publish(tb.t.Context(), Request{Scene: tb.scene, Frames: frames, Replicas: replicas, Width: 32, Height: 18, Samples: 2})
	if err != nil {
		tb.t.Fatal(err)
	}
	st, err := tb.p.Status(id)
	if err != nil {
		tb.t.Fatal(err)
	}
	return st.Manifest
}

// job returns the publisher's job id, failing the test when it has none.
func (tb *testbed) job(id cid.Cid) *pubJob {
	tb.t.Helper()
	j, err := tb.p.job(id)
	if err != nil {
		tb.t.Fatal(err)
	}
	return j
}

// volunteer is a fake volunteer: it asks the publisher directly, renders
// honestly with the built-in renderer and delivers through the swarm.
type volunteer struct {
	tb    *testbed
	key   crypto.PrivKey
	id    peer.ID
	store *roletest.Store
}

func (tb *testbed) volunteer() *volunteer {
	key, id := roletest.Identity(tb.t)
	return &volunteer{tb: tb, key: key, id: id, store: tb.swarm.Store()}
}

func (v *volunteer) lease(m job.Manifest) work.LeaseAnswer {
	v.tb.t.Helper()
	id, _ := m.ID()
	a, err := v.tb.p.Lease(v.tb.t.Context(), v.id, id, map[string]string{m.Renderer.Name: m.Renderer.Version})
	if err != nil {
		v.tb.t.Fatal(err)
	}
	return a
}

func (v *volunteer) mustLease(m job.Manifest) *work.Grant {
	v.tb.t.Helper()
	a := v.lease(m)
	if a.Grant == nil {
		v.tb.t.Fatalf("no lease (retry in %v)", a.Retry)
	}
	return a.Grant
}

// render renders a granted task honestly and commits to it; it returns
// the PNG and whether the publisher said to deliver at once.
func (v *volunteer) render(g *work.Grant) ([]byte, bool) {
	return v.renderWith(g, nil)
}

// renderWith renders a granted task, lets mutate change the image (a
// cheater's result), and commits to it.
func (v *volunteer) renderWith(g *work.Grant, mutate func(*image.NRGBA)) ([]byte, bool) {
	t := v.tb.t
	t.Helper()
	ctx := t.Context()
	m := g.Manifest
	if _, err := v.store.Get(ctx, m.Scene.Asset, nil); err != nil {
		t.Fatal(err)
	}
	sceneDir, _ := v.store.Path(m.Scene.Asset)
	out := t.TempDir()
	res, err := builtin.New().Render(ctx, render.TaskFor(m, g.Task, sceneDir, out, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := credits.Decode(data, image.Pt(m.Width, m.Height))
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(img)
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		data = buf.Bytes()
	}
	reveal, err := v.tb.p.Commit(ctx, v.id, g.Ref, job.Commit(g.Salt, credits.Digest(img)))
	if err != nil {
		t.Fatal(err)
	}
	return data, reveal
}

// deliver delivers a committed result, once the publisher lets it.
func (v *volunteer) deliver(g *work.Grant, png []byte) {
	t := v.tb.t
	t.Helper()
	if ok, err := v.tb.p.Await(t.Context(), v.id, g.Ref); err != nil || !ok {
		t.Fatalf("await: %v, %v; want deliver now", ok, err)
	}
	if err := v.tb.p.Deliver(t.Context(), v.id, work.Delivery{Ref: g.Ref, CU: 1000}, &roletest.Body{Data: png}); err != nil {
		t.Fatal(err)
	}
}

// renderAll renders and commits every grant, then delivers each result.
func renderAll(pairs ...any) {
	type job struct {
		v *volunteer
		g *work.Grant
	}
	var jobs []job
	for i := 0; i < len(pairs); i += 2 {
		jobs = append(jobs, job{pairs[i].(*volunteer), pairs[i+1].(*work.Grant)})
	}
	pngs := make([][]byte, len(jobs))
	for i, j := range jobs {
		pngs[i], _ = j.v.render(j.g)
	}
	for i, j := range jobs {
		j.v.deliver(j.g, pngs[i])
	}
}

// A lease nobody renews expires after work.LeaseTTL and its task goes to
// the next volunteer; a renewed one lives on; the expired holder's
// heartbeat is refused.
func TestLeaseExpiryAndRequeue(t *testing.T) {
	tb := newTestbed(t, nil)
	m := tb.publish("1", 2)
	a, b, c := tb.volunteer(), tb.volunteer(), tb.volunteer()
	ga, gb := a.mustLease(m), b.mustLease(m)
	if ga.Task != gb.Task {
		t.Fatalf("replicas of one frame went to %s and %s", ga.Task, gb.Task)
	}
	if got := c.lease(m); got.Grant != nil || got.Retry != work.RetryNoWork {
		t.Fatalf("a third volunteer got %+v while both replicas are out; want retry in %v", got, work.RetryNoWork)
	}
	tb.clock.Advance(work.LeaseTTL - time.Second)
	if _, err := tb.p.Renew(t.Context(), a.id, ga.Ref, 0.5); err != nil {
		t.Fatalf("heartbeat within the TTL: %v", err)
	}
	if got := c.lease(m); got.Grant != nil {
		t.Fatal("a lease was requeued before its TTL ran out")
	}
	tb.clock.Advance(2 * time.Second) // b's lease is over; a's was renewed
	gc := c.mustLease(m)
	if gc.Task != gb.Task {
		t.Fatalf("the requeued task is %s, want %s", gc.Task, gb.Task)
	}
	if _, err := tb.p.Renew(t.Context(), b.id, gb.Ref, 0.5); err == nil {
		t.Fatal("the expired holder's heartbeat was accepted")
	}
	if _, err := tb.p.Renew(t.Context(), a.id, ga.Ref, 0.9); err != nil {
		t.Fatalf("the renewed lease is gone: %v", err)
	}
}

// A paused job hands out nothing, however long volunteers keep asking;
// resumed, it leases again.
func TestPausedJobLeasesNothing(t *testing.T) {
	tb := newTestbed(t, nil)
	m := tb.publish("1-3", 2)
	id, _ := m.ID()
	if err := tb.p.Control(t.Context(), id, Pause); err != nil {
		t.Fatal(err)
	}
	v := tb.volunteer()
	for range 10 {
		if a := v.lease(m); a.Grant != nil {
			t.Fatalf("a paused job leased %s", a.Grant.Task)
		}
		tb.clock.Advance(time.Minute)
	}
	if err := tb.p.Control(t.Context(), id, Resume); err != nil {
		t.Fatal(err)
	}
	v.mustLease(m)
}

// gatedCrops is a renderer whose crop renders (the publisher's checks),
// once armed, wait until the test opens the gate.
type gatedCrops struct {
	render.Backend
	armed   *atomic.Bool
	started chan struct{} // a crop render began
	gate    chan struct{} // closed: crops may finish
}

func (g gatedCrops) Render(ctx context.Context, t render.Task, progress func(render.Progress)) (render.Result, error) {
	if t.Border != nil && g.armed.Load() {
		g.started <- struct{}{}
		select {
		case <-g.gate:
		case <-ctx.Done():
			return render.Result{}, ctx.Err()
		}
	}
	return g.Backend.Render(ctx, t, progress)
}

// Results delivered for one task while another task of the job is being
// verified are verified after it: every task is decided exactly once and
// every agreeing volunteer credited once.
func TestDeliveryDuringVerificationIsDecidedOnce(t *testing.T) {
	gated := gatedCrops{armed: new(atomic.Bool), started: make(chan struct{}, 4), gate: make(chan struct{})}
	tb := newTestbed(t, func(b render.Backend) render.Backend { gated.Backend = b; return gated })
	tb.run()
	m := tb.publish("1-2", 2)
	gated.armed.Store(true) // after the calibration render at publish
	id, _ := m.ID()
	// Four new volunteers: one lease each, the second replica of a task
	// only after scheduler.DefaultReplicaGap.
	vs := []*volunteer{tb.volunteer(), tb.volunteer(), tb.volunteer(), tb.volunteer()}
	byTask := map[int][]any{}
	for i, v := range vs {
		if i == 2 {
			tb.clock.Advance(scheduler.DefaultReplicaGap)
		}
		g := v.mustLease(m)
		byTask[g.Task.Frame] = append(byTask[g.Task.Frame], v, g)
	}
	if len(byTask[1]) != 4 || len(byTask[2]) != 4 {
		t.Fatalf("leases by frame %v, want two replicas of each", byTask)
	}
	renderAll(byTask[1]...)
	select {
	case <-gated.started: // frame 1's crop check is running
	case <-time.After(30 * time.Second):
		t.Fatal("frame 1 was not crop-checked")
	}
	renderAll(byTask[2]...)
	close(gated.gate)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := tb.p.Status(id)
		if err != nil {
			t.Fatal(err)
		}
		if st.Done() && st.Counts.Verified != 2 {
			t.Fatalf("job ended %s with %+v", st.State, st.Counts)
		}
		if st.Done() && creditedAll(t, tb, vs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job not done in 30s: %+v", st.Counts)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, frame := range []int{1, 2} {
		task := job.Task{Job: id, Frame: frame}
		if n := tb.log.Count("taskDecided", "task="+task.String()); n != 1 {
			t.Errorf("frame %d decided %d times, want once", frame, n)
		}
	}
	if n := tb.log.Count("resolveFailed"); n != 0 {
		t.Errorf("%d decisions failed to apply", n)
	}
	for _, v := range vs {
		receipts, err := tb.p.Receipts(t.Context(), v.id)
		if err != nil || len(receipts) != 1 {
			t.Errorf("volunteer has %d receipts (%v), want one for its frame", len(receipts), err)
		}
	}
}

// creditedAll reports whether every volunteer holds a receipt (the job
// reads done once decided; receipts follow).
func creditedAll(t *testing.T, tb *testbed, vs []*volunteer) bool {
	for _, v := range vs {
		receipts, err := tb.p.Receipts(t.Context(), v.id)
		if err != nil {
			t.Fatal(err)
		}
		if len(receipts) == 0 {
			return false
		}
	}
	return true
}
