package node

import (
	"context"
	"crypto/rand"
	"fmt"
	"image"
	"math/big"
	"os"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/scheduler"
)

// spotShare is the share of accepted results from established volunteers
// that the publisher re-checks; results from new volunteers are always
// checked (DESIGN.md §5).
const spotShare = 0.03

// errRefuted means the publisher's own render of a crop disproved an
// accepted result.
var errRefuted = fmt.Errorf("crop check: %w", credits.ErrMismatch)

// spotCheck re-renders a random crop (1/16 of the task's area) of the
// accepted result with the publisher's own renderer and compares it with
// the same pixels of the result under the job's profile. The crop is chosen
// only now, after every replica committed and delivered, so colluding
// volunteers cannot know which pixels will be checked. It returns
// errRefuted on a mismatch, and nil when the crop matches or no check was
// due or possible (the publisher lacks the exact renderer, or it cannot
// render borders).
func (p *publisher) spotCheck(ctx context.Context, j *pubJob, tr scheduler.TaskResults, canonical image.Image, agreeing []int, prof credits.Profile) error {
	due := false
	for _, a := range agreeing {
		if p.standing == nil || p.standing.of(tr.Results[a].Peer).New() {
			due = true
		}
	}
	if !due && !chance(spotShare) {
		return nil
	}
	m := j.m
	b, ok := p.backends[m.Renderer.Name]
	info := p.infos[m.Renderer.Name]
	if !ok || info.Version != m.Renderer.Version || !info.Capabilities.Border {
		return nil
	}
	sceneDir, err := p.store.Path(m.Scene.Asset)
	if err != nil {
		return nil
	}
	tile := m.TileRect(tr.Task.Tile)
	w, h := max(1, tile.Dx()/4), max(1, tile.Dy()/4)
	x0 := tile.Min.X + between(tile.Dx()-w)
	y0 := tile.Min.Y + between(tile.Dy()-h)
	crop := image.Rect(x0, y0, x0+w, y0+h)

	out, err := os.MkdirTemp(p.workDir, "spot-")
	if err != nil {
		return nil
	}
	defer os.RemoveAll(out)
	t := renderTask(m, tr.Task, sceneDir, out, 0)
	t.Border = &render.Rect{X0: crop.Min.X, Y0: crop.Min.Y, X1: crop.Max.X, Y1: crop.Max.Y}
	res, err := b.Render(ctx, t, nil)
	if err != nil {
		p.log.Warn("spotCheckNotRendered", "task", tr.Task.String(), "err", err)
		return nil
	}
	data, err := os.ReadFile(res.Path)
	if err != nil {
		return nil
	}
	mine, err := credits.Decode(data, crop.Size())
	if err != nil {
		return nil
	}
	// The result covers the tile; its pixel (0,0) is the tile's top left.
	theirs := credits.NRGBA(canonical).SubImage(crop.Sub(tile.Min))
	c, err := credits.Compare(prof, mine, theirs)
	if err != nil {
		return nil
	}
	p.log.Info("spotChecked", "task", tr.Task.String(), "crop", crop.String(), "match", c.Match)
	if !c.Match {
		return fmt.Errorf("%w: %s", errRefuted, c.Reason)
	}
	return nil
}

// chance reports true with probability p.
func chance(p float64) bool {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	return err == nil && float64(n.Int64()) < p*1_000_000
}

// between returns a uniform integer in [0, n].
func between(n int) int {
	if n <= 0 {
		return 0
	}
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)+1))
	if err != nil {
		return 0
	}
	return int(v.Int64())
}
