package publisher

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/phase"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/scheduler"
)

// The publisher's own renders of crops: the random check of an accepted
// result, the arbiter of a disagreement, and the reproduction of a failure
// new peers reported. Crops render one per core (cropRenders), into memory
// when the renderer can (render.ImageRenderer).

// cropShare is the share of accepted results of established volunteers
// that the publisher checks though none of them is due (DESIGN.md §5).
const cropShare = 0.03

// errRefuted means the publisher's own render of a crop disproved an
// accepted result.
var errRefuted = fmt.Errorf("crop check: %w", credits.ErrMismatch)

// errNoCheck means the publisher cannot render crops of the job: it lacks
// its exact renderer, or the renderer cannot render borders.
var errNoCheck = errors.New("this node cannot render crops of the job")

// cropCheck re-renders a random crop (1/16 of the task's area) of the
// accepted result with the publisher's own renderer and compares it with
// the same pixels of the result under the job's profile. The crop is
// chosen only now, after every replica committed and delivered, so
// colluding volunteers cannot know which pixels will be checked. It
// returns errRefuted on a mismatch, nil on a match, and another error
// when the check could not run.
func (p *Publisher) cropCheck(ctx context.Context, j *pubJob, t job.Task, canonical image.Image, prof credits.Profile) error {
	tile := j.m.TileRect(t.Tile)
	c := randomCrop(tile)
	defer phase.Default.Since("publisher.verify.crop", phase.Now())
	mine, err := p.renderCrop(ctx, j, t, c)
	if err != nil {
		return err
	}
	cmp, err := compareCrop(prof, mine, canonical, tile, c)
	if err != nil {
		return err
	}
	p.log.Info("cropChecked", "task", t.String(), "crop", c.String(), "match", cmp.Match)
	if !cmp.Match {
		return fmt.Errorf("%w: %s", errRefuted, cmp.Reason)
	}
	return nil
}

// randomCrop is a crop of 1/16 of a tile's area at a random place.
func randomCrop(tile image.Rectangle) image.Rectangle {
	w, h := max(1, tile.Dx()/4), max(1, tile.Dy()/4)
	x0 := tile.Min.X + between(tile.Dx()-w)
	y0 := tile.Min.Y + between(tile.Dy()-h)
	return image.Rect(x0, y0, x0+w, y0+h)
}

// splitTile cuts tile into n bands of rows, of one height to a row; nil
// when it has fewer rows than n.
func splitTile(tile image.Rectangle, n int) []image.Rectangle {
	h := tile.Dy()
	if n < 2 || h < n {
		return nil
	}
	parts := make([]image.Rectangle, n)
	for i := range n {
		parts[i] = image.Rect(tile.Min.X, tile.Min.Y+i*h/n, tile.Max.X, tile.Min.Y+(i+1)*h/n)
	}
	return parts
}

// compareCrop compares the publisher's render of crop c with the same
// pixels of a result covering tile (its pixel (0,0) is the tile's top
// left).
func compareCrop(prof credits.Profile, mine, result image.Image, tile, c image.Rectangle) (credits.Comparison, error) {
	return credits.Compare(prof, mine, credits.NRGBA(result).SubImage(c.Sub(tile.Min)))
}

// arbitrate settles a disagreement (d is NeedReplica or GiveUp) with the
// publisher's own render of a random crop: results that differ from it
// there are refuted, their peers struck, so that junk from cheaters can
// neither run a task out of its result budget nor go unpunished because
// no majority formed. d stands when every result matches there, or when
// the crop cannot be rendered. (A scene that renders differently on the
// publisher's machine gets its honest renderers struck too, but only at
// this publisher, whose scene it is; refuted results that agree with each
// other say so, and fail the task the second time.)
func (p *Publisher) arbitrate(ctx context.Context, j *pubJob, tr scheduler.TaskResults, imgs []image.Image,
	agree map[[2]int]credits.Comparison, prof credits.Profile, d job.Decision) (job.Decision, error) {
	tile := j.m.TileRect(tr.Task.Tile)
	c := randomCrop(tile)
	mine, err := p.renderCrop(ctx, j, tr.Task, c)
	if err != nil {
		if ctx.Err() != nil {
			return job.Decision{}, ctx.Err()
		}
		p.log.Warn("arbiterNotRendered", "task", tr.Task.String(), "err", err)
		return d, nil
	}
	var wrong []int
	for i, img := range imgs {
		cmp, err := compareCrop(prof, mine, img, tile, c)
		if err != nil {
			return d, nil
		}
		if !cmp.Match {
			wrong = append(wrong, i)
		}
	}
	p.log.Info("disagreementArbitrated", "task", tr.Task.String(), "results", len(imgs), "refuted", len(wrong))
	if len(wrong) == 0 {
		return d, nil
	}
	out := job.Decision{Verdict: job.Refute, Canonical: -1, Agreeing: wrong}
	for a, x := range wrong {
		for _, y := range wrong[a+1:] {
			out.Consistent = out.Consistent || agree[[2]int{x, y}].Match
		}
	}
	return out, nil
}

// renderCrop renders the rectangle c of task t with the publisher's own
// renderer.
func (p *Publisher) renderCrop(ctx context.Context, j *pubJob, t job.Task, c image.Rectangle) (image.Image, error) {
	m := j.m
	b, ok := p.cfg.Backends[m.Renderer.Name]
	info := p.cfg.Infos[m.Renderer.Name]
	if !ok || info.Version != m.Renderer.Version || !info.Capabilities.Border {
		return nil, errNoCheck
	}
	sceneDir, err := p.cfg.Assets.Path(m.Scene.Asset)
	if err != nil {
		return nil, err
	}
	select {
	case p.cropRenders <- struct{}{}:
		defer func() { <-p.cropRenders }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	rt := render.TaskFor(m, t, sceneDir, "", 0)
	rt.Border = &render.Rect{X0: c.Min.X, Y0: c.Min.Y, X1: c.Max.X, Y1: c.Max.Y}
	if ir, ok := b.(render.ImageRenderer); ok {
		rt.Extras = nil // a crop is checked on its PNG's pixels only
		img, err := ir.RenderImage(ctx, rt)
		if err != nil {
			return nil, err
		}
		if img.Bounds().Size() != c.Size() {
			return nil, fmt.Errorf("%w: the crop rendered is %v, want %v", credits.ErrWrongSize, img.Bounds().Size(), c.Size())
		}
		return credits.NRGBA(img), nil
	}
	out, err := os.MkdirTemp(p.cfg.WorkDir, "crop-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	rt.OutputDir = out
	res, err := b.Render(ctx, rt, nil)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(res.Path)
	if err != nil {
		return nil, err
	}
	return credits.Decode(data, c.Size())
}

// reproduce renders, for every task new peers reported failing, a crop
// itself: only if that fails too does the task fail (and its dependants).
func (p *Publisher) reproduce(ctx context.Context, j *pubJob) {
	j.mu.Lock()
	suspects := j.coord.Suspects()
	j.mu.Unlock()
	for _, t := range suspects {
		_, err := p.renderCrop(ctx, j, t, crop(j.m.TileRect(t.Tile)))
		if ctx.Err() != nil {
			return
		}
		failed := err != nil && !errors.Is(err, errNoCheck)
		p.log.Info("failureReproduced", "task", t.String(), "failed", failed, "err", err)
		if err := p.update(j, func() error { return j.coord.Reproduced(t, failed) }); err != nil {
			p.log.Error("jobNotSaved", "job", j.id, "err", err)
		}
	}
}
