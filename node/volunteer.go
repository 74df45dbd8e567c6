package node

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/assets"
	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/p2p"
	"github.com/renderswarm/renderswarm/render"
)

// Announcements older than this are forgotten (publishers re-announce
// every announceEvery).
const offerMaxAge = 3 * announceEvery

// errNoWork means a publisher had nothing for this volunteer right now.
var errNoWork = errors.New("no work")

// renewEvery is the volunteer's heartbeat on a lease (a quarter of the
// publisher's lease TTL).
const renewEvery = leaseTTL / 4

// deliverPatience is how long a volunteer keeps trying to reach a publisher
// that went away (a crash and restart) before giving a result up.
const deliverPatience = 3 * time.Minute

// errLeaseLost ends a render whose lease the publisher no longer honours.
var errLeaseLost = errors.New("lease lost")

// volunteer renders other publishers' tasks: it listens to announcements,
// pulls leases, fetches scenes, renders, commits and delivers.
type volunteer struct {
	net      *p2p.Node
	store    *assets.Store
	backends map[string]render.Backend
	versions map[string]string // renderer name -> exact version installed here
	offers   *offerBook
	workDir  string
	settings *settingsBox
	usage    *usage
	speed    float64 // this machine's speed relative to the reference
	key      crypto.PrivKey
	ledger   *credits.Ledger
	log      *slog.Logger

	delivering chan struct{}  // a slot per result being delivered
	inFlight   sync.WaitGroup // background deliveries

	mu       sync.Mutex
	owed     map[peer.ID]time.Time    // publishers we delivered to, and when last
	renders  map[string]*activeRender // by lease ID
	rendered int                      // tasks delivered since start
	preview  []byte                   // thumbnail of the last delivered render
}

// maxDelivering bounds results delivered in the background at once.
const maxDelivering = 2

// Run listens for announcements and works until ctx ends.
func (v *volunteer) Run(ctx context.Context) error {
	go v.net.Subscribe(ctx, p2p.JobsTopic, func(msg p2p.Message) {
		a, m, sm, err := p2p.DecodeAnnouncement(msg.Data, msg.From.String())
		if err != nil {
			return // the topic validator already rejected what it could
		}
		v.offers.add(a, m, sm, time.Now())
	})
	go v.collectReceiptsLoop(ctx)
	go v.enforce(ctx)
	defer v.inFlight.Wait()
	idle := time.NewTimer(0)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-v.offers.wake:
		case <-idle.C:
		}
		if !v.waitOpen(ctx) {
			return nil
		}
		worked := false
		for _, o := range v.offers.candidates(time.Now()) {
			err := v.workOn(ctx, o)
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				worked = true
				break
			}
			if !errors.Is(err, errNoWork) {
				v.log.Warn("taskFailed", "job", o.ID, "err", err)
			}
		}
		if worked {
			idle.Reset(0)
		} else {
			idle.Reset(2 * time.Second)
		}
	}
}

// call sends one work request to a publisher and decodes the answer.
func (v *volunteer) call(ctx context.Context, pub peer.ID, req p2p.WorkRequest) (p2p.WorkResponse, error) {
	b, err := p2p.Encode(req)
	if err != nil {
		return p2p.WorkResponse{}, err
	}
	resp, err := v.net.Call(ctx, pub, p2p.WorkProtocol, b)
	if err != nil {
		return p2p.WorkResponse{}, err
	}
	return p2p.DecodeWorkResponse(resp)
}

// workOn asks o's publisher for a lease and, if granted, renders and
// delivers it.
func (v *volunteer) workOn(ctx context.Context, o offer) error {
	if v.gate(time.Now()) != "" {
		return errNoWork // paused, or not now: no new leases
	}
	settings, _ := v.settings.get()
	resp, err := v.call(ctx, o.Manifest.Publisher, p2p.WorkRequest{Op: p2p.OpLease, Job: o.ID.String(), Renderers: offered(v.versions, settings)})
	if err != nil {
		v.offers.backOff(o.ID, time.Now().Add(5*time.Second))
		return fmt.Errorf("asking for work: %w", err)
	}
	g := resp.Grant
	if g == nil {
		retry := time.Duration(max(resp.Retry, 1)) * time.Second
		v.offers.backOff(o.ID, time.Now().Add(retry))
		return errNoWork
	}
	if !o.Manifest.HasTask(o.ID, g.Task) {
		return fmt.Errorf("publisher leased %s, not a task of job %s", g.Task, o.ID)
	}
	// The lease is renewed from here until its result is delivered.
	lctx, lost := context.WithCancelCause(ctx)
	v.track(g.Lease, o, g, lost)
	go v.keepAlive(lctx, o, g, lost)
	r, err := v.render(lctx, o, g)
	if err != nil {
		if errors.Is(context.Cause(lctx), errHandedBack) {
			err = errHandedBack
		}
		lost(nil)
		v.handBack(ctx, o, g, err)
		v.untrack(g.Lease, false, nil)
		if errors.Is(err, errHandedBack) {
			return errNoWork // not a failure of this volunteer
		}
		return err
	}
	v.setPhase(g.Lease, phaseDelivering, 1)
	// Deliver in the background while the next task renders (at most
	// maxDelivering results in flight), so the publisher's fetch and check
	// of one frame overlaps the rendering of the next.
	select {
	case v.delivering <- struct{}{}:
	case <-ctx.Done():
		lost(nil)
		v.handBack(ctx, o, g, ctx.Err())
		v.untrack(g.Lease, false, nil)
		return ctx.Err()
	}
	v.inFlight.Add(1)
	go func() {
		defer v.inFlight.Done()
		defer func() { <-v.delivering }()
		defer lost(nil)
		defer os.RemoveAll(r.dir)
		err := v.deliver(lctx, o, g, r)
		if err != nil {
			v.log.Warn("deliveryFailed", "task", g.Task.String(), "err", err)
			v.handBack(ctx, o, g, err)
		}
		v.untrack(g.Lease, err == nil, r.thumb)
	}()
	return nil
}

// handBack tells the publisher a lease will not be delivered: failed, or
// (when ctx has ended) handed back because this node stops.
func (v *volunteer) handBack(ctx context.Context, o offer, g *p2p.LeaseGrant, cause error) {
	reason := cause.Error()
	if ctx.Err() != nil || errors.Is(cause, errHandedBack) {
		reason = reasonStopped
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	v.call(cctx, o.Manifest.Publisher, p2p.WorkRequest{Op: p2p.OpFail, Job: o.ID.String(), Lease: g.Lease, Reason: reason})
}

// rendered is a rendered and committed task waiting to be delivered.
type rendered struct {
	dir   string // scratch directory holding the image; removed after delivery
	path  string // the image
	claim int64  // milli-CU claimed for the render
	thumb []byte // a small PNG of the image, for the web app
}

// render fetches the scene, renders the task and commits to the pixels.
func (v *volunteer) render(ctx context.Context, o offer, g *p2p.LeaseGrant) (r rendered, err error) {
	m := o.Manifest
	release, err := v.holdScene(ctx, m.Scene.Asset)
	if err != nil {
		return r, err
	}
	defer release()
	sceneDir, err := v.store.Path(m.Scene.Asset)
	if err != nil {
		return r, err
	}
	out, err := os.MkdirTemp(v.workDir, "task-")
	if err != nil {
		return r, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(out)
		}
	}()

	limit := time.Duration(m.Limits.MaxSecondsPerFrame) * time.Second
	rctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	settings, _ := v.settings.get()
	threads := settings.CPUs
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	start := time.Now()
	v.setThreads(g.Lease, threads)
	v.setPhase(g.Lease, phaseRendering, 0)
	res, err := v.backends[m.Renderer.Name].Render(rctx, renderTask(m, g.Task, sceneDir, out, threads),
		func(p render.Progress) { v.setPhase(g.Lease, phaseRendering, p.Fraction) })
	if err != nil {
		if errors.Is(rctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return r, fmt.Errorf("render exceeded the job's limit of %v", limit)
		}
		return r, fmt.Errorf("render failed: %s", lastLine(err.Error()))
	}
	claim := credits.Units(time.Since(start).Seconds()*float64(threads), v.speed)
	png, err := os.ReadFile(res.Path)
	if err != nil {
		return r, err
	}
	tile := m.TileRect(g.Task.Tile)
	img, err := credits.Decode(png, image.Pt(tile.Dx(), tile.Dy()))
	if err != nil {
		return r, fmt.Errorf("renderer output: %w", err)
	}
	commit := job.Commit(g.Salt, credits.Digest(img))
	if _, err := v.callPatiently(ctx, o, p2p.WorkRequest{Op: p2p.OpCommit, Job: o.ID.String(), Lease: g.Lease, Commit: &commit}); err != nil {
		return r, fmt.Errorf("committing: %w", err)
	}
	thumb, err := thumbnailPNG(png, previewSize)
	if err != nil {
		thumb = nil // the web app shows no preview; the result is fine
	}
	return rendered{dir: out, path: res.Path, claim: claim, thumb: thumb}, nil
}

// holdScene fetches a scene and keeps it from cache collection until
// release: the renderer reads it in place.
func (v *volunteer) holdScene(ctx context.Context, scene cid.Cid) (release func(), err error) {
	for range 3 { // collected between Get and Hold: fetch again
		if _, err := v.store.Get(ctx, scene, nil); err != nil {
			return nil, fmt.Errorf("fetching scene %s: %w", scene, err)
		}
		if release, err = v.store.Hold(scene); !errors.Is(err, assets.ErrNotFound) {
			return release, err
		}
	}
	return nil, fmt.Errorf("scene %s: collected from the cache as soon as fetched; is the cache quota smaller than the scene?", scene)
}

// deliver shares a committed image as an asset and reports it.
func (v *volunteer) deliver(ctx context.Context, o offer, g *p2p.LeaseGrant, r rendered) error {
	m := o.Manifest
	name := filepath.Join(r.dir, fmt.Sprintf("frame_%04d_tile%02d.png", g.Task.Frame, g.Task.Tile))
	if err := os.Rename(r.path, name); err != nil {
		return err
	}
	asset, err := v.store.Add(ctx, []string{name})
	if err != nil {
		return fmt.Errorf("sharing result: %w", err)
	}
	if _, err := v.callPatiently(ctx, o, p2p.WorkRequest{Op: p2p.OpDeliver, Job: o.ID.String(), Lease: g.Lease, Result: asset.CID.String(), CU: r.claim}); err != nil {
		return fmt.Errorf("delivering: %w", err)
	}
	v.mu.Lock()
	v.owed[m.Publisher] = time.Now()
	v.mu.Unlock()
	v.log.Info("taskDelivered", "task", g.Task.String(), "result", asset.CID)
	return nil
}

// lastLine keeps an error one line: a renderer's last words.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
