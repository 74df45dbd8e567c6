package publisher

import (
	"context"
	"fmt"
	"image"
	"os"
	"time"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/scheduler"
)

// The publisher prices its tasks itself (DESIGN.md §6): its verifier's
// first act is to render a crop of the job's first task — a sixteenth of
// its area, like a crop check — within the job's time limit, and to scale
// the processor time it took by area and by this machine's speed. A
// volunteer's claim is capped at twice that price (claimCap) and paid no
// more than the median of the job's capped claims, so lying about time
// pays nothing, and a restart changes nothing: the price and the claims
// are in the database. A job whose calibration render fails cannot be
// rendered: it fails, with the renderer's last words in its status.

// crop returns the centre sixteenth of r (at least one pixel).
func crop(r image.Rectangle) image.Rectangle {
	w, h := max(1, r.Dx()/4), max(1, r.Dy()/4)
	x0, y0 := r.Min.X+(r.Dx()-w)/2, r.Min.Y+(r.Dy()-h)/2
	return image.Rect(x0, y0, x0+w, y0+h)
}

// slowRender is a task priced at price milli-CU rendered
// scheduler.SlowFactor times slower than on the reference machine: a
// volunteer that slow is still waited for, the other replicas of a task
// getting that long to commit after the first one did
// (scheduler.Config.RenderTime).
func slowRender(price int64) time.Duration {
	return time.Duration(price) * time.Millisecond * scheduler.SlowFactor
}

// price renders the calibration crop of m's first task from the scene at
// sceneDir and returns a task's price in milli-CU.
func (p *Publisher) price(ctx context.Context, m job.Manifest, id job.Task, sceneDir string) (int64, error) {
	b := p.cfg.Backends[m.Renderer.Name]
	out, err := os.MkdirTemp(p.cfg.WorkDir, "price-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(out)
	tile := m.TileRect(id.Tile)
	c := crop(tile)
	t := render.TaskFor(m, id, sceneDir, out, 1)
	t.Border = &render.Rect{X0: c.Min.X, Y0: c.Min.Y, X1: c.Max.X, Y1: c.Max.Y}
	start := p.clock.Now()
	res, err := b.Render(ctx, t, nil)
	if err != nil {
		return 0, fmt.Errorf("calibration render of frame %d: %w", id.Frame, err)
	}
	cpu := res.CPU
	if cpu <= 0 {
		cpu = p.clock.Now().Sub(start) // the backend cannot tell: one thread's wall time
	}
	area := float64(tile.Dx()*tile.Dy()) / float64(c.Dx()*c.Dy())
	return max(credits.Units(cpu.Seconds()*area, p.cfg.Speed), 1), nil
}

// pay is what a volunteer's accepted result earns: its capped claim, no
// more than the median of the job's capped claims (j.costs). j.mu is held.
func (j *pubJob) pay(claim int64) int64 {
	return min(min(max(claim, 0), claimCap(j.price)), j.costs.Median())
}

// payCheck is what a check replica's accepted crop earns: its claim, no
// more than the crop's share of the task's area of what a result of the
// whole task may earn. j.mu is held.
func (j *pubJob) payCheck(claim int64, crop, tile image.Rectangle) int64 {
	whole := min(claimCap(j.price), j.costs.Median())
	share := float64(crop.Dx()*crop.Dy()) / float64(max(1, tile.Dx()*tile.Dy()))
	return min(max(claim, 0), int64(float64(whole)*share))
}

// priced reports whether the job has its price.
func (j *pubJob) priced() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.price > 0
}

// calibrate prices a job that has no price yet. It reports false when the
// job cannot be priced now (to try again); a job whose render fails is
// failed, and counts as priced.
func (p *Publisher) calibrate(ctx context.Context, j *pubJob) bool {
	if j.priced() {
		return true
	}
	sceneDir, err := p.cfg.Assets.Path(j.m.Scene.Asset)
	if err != nil {
		p.log.Error("sceneMissing", "job", j.id, "err", err)
		return false
	}
	limit := time.Duration(j.m.Limits.MaxSecondsPerFrame) * time.Second
	rctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	first := j.m.Tasks(j.id)[0]
	price, err := p.price(rctx, j.m, first, sceneDir)
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		reason := fmt.Sprintf("the publisher's own render failed: %s", render.LastLine(err.Error()))
		if rctx.Err() != nil {
			reason = fmt.Sprintf("the publisher's own render exceeded the job's limit of %v", limit)
		}
		p.log.Warn("jobUnrenderable", "job", j.id, "err", err)
		p.update(j, func() error {
			j.noteError(TaskError{Task: first, Peer: p.self, Reason: reason, At: p.clock.Now()})
			j.coord.GiveUpAll()
			return nil
		})
		return true
	}
	if err := p.jobs.setPrice(j.id.String(), price); err != nil {
		p.log.Error("priceNotSaved", "job", j.id, "err", err)
		return false
	}
	j.mu.Lock()
	j.price, j.costs.Cap = price, claimCap(price)
	j.coord.SetRenderTime(slowRender(price))
	j.mu.Unlock()
	p.log.Info("jobPriced", "job", j.id, "price", price)
	return true
}
