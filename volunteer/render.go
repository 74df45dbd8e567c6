package volunteer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/assets"
	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/imaging"
	"github.com/renderswarm/renderswarm/internal/phase"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/work"
)

// rendered is a rendered and committed task waiting to be delivered.
type rendered struct {
	dir       string         // scratch directory holding the image; removed after delivery
	path      string         // the image
	claim     int64          // milli-CU claimed for the render
	preview   []byte         // the PNG, for the web app's preview (made small when large)
	commit    job.Commitment // to the pixels (and extra passes)
	committed bool           // the publisher has the commitment
	revealed  bool           // the publisher said to deliver at once
	delivered bool           // delivered with the commitment (commitDeliver)
}

// render fetches the scene, renders the task and, when commitNow is set,
// commits to the pixels; otherwise the caller commits (commitTo).
func (v *Volunteer) render(ctx context.Context, g *work.Grant, commitNow bool) (r rendered, err error) {
	m := g.Manifest
	b, ok := v.cfg.Backends[m.Renderer.Name]
	if !ok {
		return r, fmt.Errorf("renderer %s is not installed", m.Renderer.Name)
	}
	fetched := phase.Now()
	release, err := v.holdScene(ctx, g)
	phase.Default.Since("volunteer.scene", fetched)
	if err != nil {
		return r, err
	}
	defer release()
	sceneDir, err := v.cfg.Assets.Path(m.Scene.Asset)
	if err != nil {
		return r, err
	}
	out, err := os.MkdirTemp(v.cfg.WorkDir, "task-")
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
	threads := v.Settings().CPUs
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	start := v.clock.Now()
	v.setThreads(g.Lease, threads)
	v.setPhase(g.Lease, Rendering, 0)
	rendering := phase.Now()
	rt := render.TaskFor(m, g.Task, sceneDir, out, threads)
	if c := g.Crop; !c.Empty() { // a check replica: just these pixels
		rt.Border = &render.Rect{X0: c.Min.X, Y0: c.Min.Y, X1: c.Max.X, Y1: c.Max.Y}
	}
	res, err := b.Render(rctx, rt, func(p render.Progress) { v.setPhase(g.Lease, Rendering, p.Fraction) })
	if err != nil {
		if errors.Is(rctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return r, fmt.Errorf("render exceeded the job's limit of %v", limit)
		}
		return r, fmt.Errorf("render failed: %s", render.LastLine(err.Error()))
	}
	phase.Default.Since("volunteer.render", rendering)
	cpu := res.CPU
	if cpu <= 0 { // the backend cannot tell
		cpu = v.clock.Now().Sub(start) * time.Duration(threads)
	}
	claim := credits.Units(cpu.Seconds(), v.cfg.Speed)
	png, err := os.ReadFile(res.Path)
	if err != nil {
		return r, err
	}
	size := m.TileRect(g.Task.Tile).Size()
	if !g.Crop.Empty() {
		size = g.Crop.Size()
	}
	img, err := credits.Decode(png, size)
	if err != nil {
		return r, fmt.Errorf("renderer output: %w", err)
	}
	var extras map[string][]byte
	if g.Crop.Empty() {
		if extras, err = readExtras(res, m.Extras()); err != nil {
			return r, err
		}
	}
	r = rendered{dir: out, path: res.Path, claim: claim, commit: job.Commit(g.Salt, job.ResultDigest(credits.Digest(img), extras))}
	if commitNow {
		if err := v.commitTo(ctx, g, &r); err != nil {
			return r, err
		}
	}
	r.preview = png // made small when the web app asks for it (Preview)
	if len(png) > maxRawPreview {
		if r.preview, err = imaging.Thumbnail(png, imaging.PreviewSize); err != nil {
			r.preview = nil // the web app shows no preview; the result is fine
		}
	}
	if len(extras) > 0 {
		if r.path, err = writeBundle(out, png, extras); err != nil {
			return r, err
		}
	}
	return r, nil
}

// maxRawPreview is the largest PNG kept whole for the web app's preview
// until it asks (Volunteer.Preview); a larger one is made small at once.
// Making every small render's thumbnail took 2 % of a volunteer's CPU on
// tiny tasks.
const maxRawPreview = 1 << 20

// commitTo sends the publisher r's commitment and notes whether to deliver
// at once.
func (v *Volunteer) commitTo(ctx context.Context, g *work.Grant, r *rendered) error {
	pub := g.Manifest.Publisher
	committing := phase.Now()
	var reveal bool
	if err := v.patiently(ctx, pub, "commit", func(ctx context.Context) error {
		var err error
		reveal, err = v.cfg.Publishers.Commit(ctx, pub, g.Ref, r.commit)
		return err
	}); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	phase.Default.Since("volunteer.commit", committing)
	v.setPhase(g.Lease, Committed, 1)
	r.committed, r.revealed = true, reveal
	return nil
}

// The scene fetch is bounded: findScene to find the scene and learn its
// size, then at least minFetchRate. A publisher whose scene nobody seeds
// does not hold a volunteer longer.
const (
	findScene    = 40 * time.Second
	minFetchRate = 256 << 10 // bytes per second
)

// errFetchTooSlow ends a scene fetch that ran out of time.
var errFetchTooSlow = errors.New("scene not fetched in time")

// fetchTime is how long a scene of size bytes may take.
func fetchTime(size int64) time.Duration {
	return findScene + time.Duration(size/minFetchRate)*time.Second
}

// holdScene fetches a lease's scene, within its deadline, and keeps it
// from cache collection until release: the renderer reads it in place.
func (v *Volunteer) holdScene(ctx context.Context, g *work.Grant) (release func(), err error) {
	scene := g.Manifest.Scene.Asset
	for range 3 { // collected between Get and Hold: fetch again
		if err := v.fetchScene(ctx, g.Lease, scene); err != nil {
			return nil, err
		}
		if release, err = v.cfg.Assets.Hold(scene); !errors.Is(err, assets.ErrNotFound) {
			return release, err
		}
	}
	return nil, fmt.Errorf("scene %s: collected from the cache as soon as fetched; is the cache quota smaller than the scene?", scene)
}

// fetchScene gets a scene within fetchTime of its size, reporting its
// progress.
func (v *Volunteer) fetchScene(ctx context.Context, lease string, scene cid.Cid) error {
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	deadline := v.clock.NewTimer(findScene)
	defer deadline.Stop()
	var sized atomic.Int64 // the deadline, once the size is known, in ns
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-deadline.C():
			cancel(errFetchTooSlow)
		case <-fctx.Done():
		}
	}()
	_, err := v.cfg.Assets.Get(fctx, scene, func(p assets.Progress) {
		if p.Total > 0 && sized.CompareAndSwap(0, 1) {
			deadline.Reset(fetchTime(p.Total))
		}
		if p.Total > 0 {
			v.setPhase(lease, Fetching, float64(p.Done)/float64(p.Total))
		}
	})
	cancel(nil)
	<-watched
	if errors.Is(context.Cause(fctx), errFetchTooSlow) {
		return fmt.Errorf("fetching scene %s: %w", scene, errFetchTooSlow)
	}
	if err != nil {
		return fmt.Errorf("fetching scene %s: %w", scene, err)
	}
	return nil
}
