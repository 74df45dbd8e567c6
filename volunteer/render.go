package volunteer

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"runtime"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/assets"
	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/imaging"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/work"
)

// rendered is a rendered and committed task waiting to be delivered.
type rendered struct {
	dir   string // scratch directory holding the image; removed after delivery
	path  string // the image
	claim int64  // milli-CU claimed for the render
	thumb []byte // a small PNG of the image, for the web app
}

// render fetches the scene, renders the task and commits to the pixels.
func (v *Volunteer) render(ctx context.Context, o Offer, g *work.Grant) (r rendered, err error) {
	m := g.Manifest
	b, ok := v.cfg.Backends[m.Renderer.Name]
	if !ok {
		return r, fmt.Errorf("renderer %s is not installed", m.Renderer.Name)
	}
	release, err := v.holdScene(ctx, m.Scene.Asset)
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
	res, err := b.Render(rctx, render.TaskFor(m, g.Task, sceneDir, out, threads),
		func(p render.Progress) { v.setPhase(g.Lease, Rendering, p.Fraction) })
	if err != nil {
		if errors.Is(rctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return r, fmt.Errorf("render exceeded the job's limit of %v", limit)
		}
		return r, fmt.Errorf("render failed: %s", render.LastLine(err.Error()))
	}
	claim := credits.Units(v.clock.Now().Sub(start).Seconds()*float64(threads), v.cfg.Speed)
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
	pub := m.Publisher
	if err := v.patiently(ctx, pub, "commit", func(ctx context.Context) error {
		return v.cfg.Publishers.Commit(ctx, pub, g.Ref, commit)
	}); err != nil {
		return r, fmt.Errorf("committing: %w", err)
	}
	thumb, err := imaging.Thumbnail(png, imaging.PreviewSize)
	if err != nil {
		thumb = nil // the web app shows no preview; the result is fine
	}
	return rendered{dir: out, path: res.Path, claim: claim, thumb: thumb}, nil
}

// holdScene fetches a scene and keeps it from cache collection until
// release: the renderer reads it in place.
func (v *Volunteer) holdScene(ctx context.Context, scene cid.Cid) (release func(), err error) {
	for range 3 { // collected between Get and Hold: fetch again
		if _, err := v.cfg.Assets.Get(ctx, scene, nil); err != nil {
			return nil, fmt.Errorf("fetching scene %s: %w", scene, err)
		}
		if release, err = v.cfg.Assets.Hold(scene); !errors.Is(err, assets.ErrNotFound) {
			return release, err
		}
	}
	return nil, fmt.Errorf("scene %s: collected from the cache as soon as fetched; is the cache quota smaller than the scene?", scene)
}
