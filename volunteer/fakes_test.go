package volunteer

import (
	"context"
	"io"
	"path/filepath"
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

// Fakes for the role tests (role_test.go): a publisher on the work
// protocol, the gossip, a renderer that never ends and a job on offer.

// call is one request the fake publisher received.
type call struct {
	op       string
	ref      work.Ref
	progress float64
	// withResult: a commitment sent with its result (CommitDeliver).
	withResult bool
}

// publisher is a fake publisher: it grants its leases in order, then has
// no work; it records every call.
type publisher struct {
	mu      sync.Mutex
	grants  []*work.Grant
	backups []*work.Grant // granted to Backup; with none, Backup is not recorded
	calls   chan call
	held    chan struct{} // when set, Commit answers once it is closed
	// earlier: a publisher of an earlier version, which refuses a
	// commitment sent with its result.
	earlier bool
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
	if err := p.hold(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// hold waits, when held is set, until it is closed.
func (p *publisher) hold(ctx context.Context) error {
	if p.held == nil {
		return nil
	}
	select {
	case <-p.held:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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

// CommitDeliver is Commit, recorded as sent with its result, then
// Deliver.
func (p *publisher) CommitDeliver(ctx context.Context, from peer.ID, d work.Delivery, _ job.Commitment, png io.Reader, size int64) (bool, error) {
	if p.earlier {
		p.calls <- call{op: "deliver", ref: d.Ref}
		return false, &p2p.RemoteError{Msg: "lease " + d.Lease + ": not committed"}
	}
	p.calls <- call{op: "commit", ref: d.Ref, withResult: true}
	if err := p.hold(ctx); err != nil {
		return false, err
	}
	return true, p.Deliver(ctx, from, d, png, size)
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
