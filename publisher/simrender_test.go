package publisher

// What the simulation renders (sim_test.go): the truth, a pure function of
// job, frame and pixel, which honest volunteers deliver and the
// publishers' crop checks reproduce.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"time"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/render"
)

// simBackend renders the truth: the publisher's crop checks and
// calibration renders come here.
type simBackend struct {
	render.Backend
	w      *simWorld
	bySeed map[uint64]*simJob // every job of a publisher has its own seed
	crops  int
}

func (b *simBackend) Render(_ context.Context, t render.Task, _ func(render.Progress)) (render.Result, error) {
	j := b.bySeed[t.Seed]
	if j == nil {
		return render.Result{}, fmt.Errorf("%w: unknown seed %d", render.ErrSceneInvalid, t.Seed)
	}
	r := image.Rect(0, 0, t.Width, t.Height)
	if t.Border != nil {
		r = image.Rect(t.Border.X0, t.Border.Y0, t.Border.X1, t.Border.Y1)
	}
	img := image.NewNRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetNRGBA(x-r.Min.X, y-r.Min.Y, truthPixel(j.idx, t.Frame, x, y))
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return render.Result{}, err
	}
	path := filepath.Join(t.OutputDir, "out.png")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return render.Result{}, err
	}
	b.crops++
	area := float64(r.Dx()*r.Dy()) / float64(t.Width*t.Height)
	return render.Result{Path: path, Width: r.Dx(), Height: r.Dy(), CPU: time.Duration(float64(j.cost) * area)}, nil
}

// truthPixel is the honest render of a pixel.
func truthPixel(jobIdx, frame, x, y int) color.NRGBA {
	var in [32]byte
	binary.LittleEndian.PutUint64(in[0:], uint64(jobIdx))
	binary.LittleEndian.PutUint64(in[8:], uint64(frame))
	binary.LittleEndian.PutUint64(in[16:], uint64(x))
	binary.LittleEndian.PutUint64(in[24:], uint64(y))
	h := sha256.Sum256(in[:])
	return color.NRGBA{h[0], h[1], h[2], 255}
}

// simPNG encodes the volunteers' images, reusing its buffers.
var simPNG = &png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &simPNGPool{}}

type simPNGPool struct{ b *png.EncoderBuffer }

func (p *simPNGPool) Get() *png.EncoderBuffer  { b := p.b; p.b = nil; return b }
func (p *simPNGPool) Put(b *png.EncoderBuffer) { p.b = b }

// simSize is every job's frame size: small, so that images cost little.
const simSize = 16

// simShare is the share of a frame's area in r.
func simShare(r image.Rectangle) float64 {
	return float64(r.Dx()*r.Dy()) / (simSize * simSize)
}

func (w *simWorld) truthOf(j *simJob, t job.Task) job.PixelDigest {
	if d, ok := w.truth[t]; ok {
		return d
	}
	img := image.NewNRGBA(image.Rect(0, 0, simSize, simSize))
	for y := range simSize {
		for x := range simSize {
			img.SetNRGBA(x, y, truthPixel(j.idx, t.Frame, x, y))
		}
	}
	d := credits.Digest(img)
	w.truth[t] = d
	return d
}
