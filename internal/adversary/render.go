package adversary

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"time"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/work"
)

// Image is a result a peer commits to: the PNG it reveals and the pixel
// digest the publisher will compute from it.
type Image struct {
	PNG    []byte
	Digest job.PixelDigest
}

// newImage encodes img and digests its pixels.
func newImage(img image.Image) (Image, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Image{}, err
	}
	return Image{PNG: buf.Bytes(), Digest: credits.Digest(img)}, nil
}

// sceneTimeout bounds fetching a job's scene.
const sceneTimeout = 2 * time.Minute

// render makes the image of a leased task the way mode says, and what the
// render took in milli-CU (at speed 1, one thread).
func (p *Peer) render(ctx context.Context, g *work.Grant, b Behavior) (Image, int64, error) {
	m := g.Manifest
	fctx, cancel := context.WithTimeout(ctx, sceneTimeout)
	_, err := p.store.Get(fctx, m.Scene.Asset, nil)
	cancel()
	if err != nil {
		return Image{}, 0, fmt.Errorf("fetching scene: %w", err)
	}
	sceneDir, err := p.store.Path(m.Scene.Asset)
	if err != nil {
		return Image{}, 0, err
	}
	out, err := os.MkdirTemp(p.scratch, "render-")
	if err != nil {
		return Image{}, 0, err
	}
	defer os.RemoveAll(out)
	tile := m.TileRect(g.Task.Tile).Size()
	t := render.TaskFor(m, g.Task, sceneDir, out, 1)
	half := false
	if b.Render == RenderLazy {
		half = b.HalfResolution || m.Samples <= 1 || t.Border != nil
		if half {
			t.Width, t.Height, t.Border = max(1, t.Width/2), max(1, t.Height/2), nil
		} else {
			t.Samples = max(1, m.Samples/4)
		}
	}
	start := time.Now()
	res, err := p.backend.Render(ctx, t, nil)
	if err != nil {
		return Image{}, 0, fmt.Errorf("render failed: %w", err)
	}
	took := time.Since(start)
	data, err := os.ReadFile(res.Path)
	if err != nil {
		return Image{}, 0, err
	}
	img, err := credits.Decode(data, image.Pt(res.Width, res.Height))
	if err != nil {
		return Image{}, 0, err
	}
	if half {
		img = upscale(img, tile)
	}
	if b.Render == RenderWrong {
		brighten(img)
	}
	out2, err := newImage(img)
	return out2, credits.Units(took.Seconds(), 1), err
}

// upscale scales img to size by repeating pixels (nearest neighbour).
func upscale(img *image.NRGBA, size image.Point) *image.NRGBA {
	out := image.NewNRGBA(image.Rectangle{Max: size})
	sb := img.Bounds()
	for y := range size.Y {
		sy := min(y*sb.Dy()/size.Y, sb.Dy()-1)
		for x := range size.X {
			sx := min(x*sb.Dx()/size.X, sb.Dx()-1)
			copy(out.Pix[out.PixOffset(x, y):out.PixOffset(x, y)+4], img.Pix[img.PixOffset(sx, sy):])
		}
	}
	return out
}

// brighten adds 2/255 to every colour channel: a cheat a person cannot
// see and verification must catch.
func brighten(img *image.NRGBA) {
	for i := range img.Pix {
		if i%4 != 3 {
			img.Pix[i] = uint8(min(int(img.Pix[i])+2, 255))
		}
	}
}
