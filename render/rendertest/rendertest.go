// Package rendertest is the conformance suite every render.Backend must
// pass: call Run from the backend's tests with a small animated fixture
// scene. It checks what the rest of renderswarm relies on — sizes,
// progress, cancellation, errors, border tiles and determinism — and
// nothing specific to one renderer.
//
// It imports only the standard library, render and testing.
package rendertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/render"
)

// Suite describes the backend under test and its fixture.
type Suite struct {
	Backend render.Backend
	// SceneDir and SceneFile name an animated fixture scene (SceneFile is
	// slash-separated, relative to SceneDir). The suite never writes there.
	SceneDir, SceneFile string
	// FrameA and FrameB are two frames of the fixture that must differ.
	FrameA, FrameB int
	// Width, Height and Samples keep renders small; they should be cheap
	// (well under a second per frame). Width and Height must be at least 2.
	Width, Height, Samples int
	// SlowSamples is a sample count that makes one frame take at least a
	// second, for the cancellation test; 0 means 64×Samples.
	SlowSamples int
	// CancelWithin bounds how long Render may take to return after its
	// context is cancelled; 0 means 2 s.
	CancelWithin time.Duration
}

// Run runs every check as a subtest.
func Run(t *testing.T, s Suite) {
	t.Helper()
	if s.SlowSamples == 0 {
		s.SlowSamples = 64 * s.Samples
	}
	if s.CancelWithin == 0 {
		s.CancelWithin = 2 * time.Second
	}
	info, err := s.Backend.Probe(t.Context())
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	t.Run("Probe", func(t *testing.T) { testProbe(t, info) })
	t.Run("Inspect", func(t *testing.T) { testInspect(t, s) })
	t.Run("FrameSize", func(t *testing.T) { testFrameSize(t, s) })
	t.Run("FramesDiffer", func(t *testing.T) { testFramesDiffer(t, s, info) })
	t.Run("Progress", func(t *testing.T) { testProgress(t, s) })
	t.Run("Cancel", func(t *testing.T) { testCancel(t, s) })
	t.Run("CancelledBefore", func(t *testing.T) { testCancelledBefore(t, s) })
	t.Run("MissingScene", func(t *testing.T) { testMissingScene(t, s) })
	t.Run("BadTask", func(t *testing.T) { testBadTask(t, s) })
	t.Run("BorderStitch", func(t *testing.T) { testBorderStitch(t, s, info) })
	t.Run("Deterministic", func(t *testing.T) { testDeterministic(t, s, info) })
	t.Run("SceneUntouched", func(t *testing.T) { testSceneUntouched(t, s) })
}

func (s Suite) task(t *testing.T, frame int) render.Task {
	return render.Task{
		SceneDir: s.SceneDir, SceneFile: s.SceneFile, Frame: frame,
		Width: s.Width, Height: s.Height, Samples: s.Samples, Seed: 7,
		OutputDir: t.TempDir(),
	}
}

func testProbe(t *testing.T, info render.Info) {
	if info.Name == "" || info.Version == "" {
		t.Errorf("Probe = %+v; want a name and a version", info)
	}
}

func testInspect(t *testing.T, s Suite) {
	si, err := s.Backend.Inspect(t.Context(), filepath.Join(s.SceneDir, filepath.FromSlash(s.SceneFile)))
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if si.FrameEnd < si.FrameStart || si.Width < 1 || si.Height < 1 {
		t.Errorf("Inspect = %+v; want a frame range and a resolution", si)
	}
	base := filepath.Dir(filepath.Join(s.SceneDir, filepath.FromSlash(s.SceneFile)))
	for _, f := range si.Files {
		if !filepath.IsLocal(filepath.FromSlash(f)) {
			t.Errorf("dependency %q is not a local relative path", f)
			continue
		}
		if _, err := os.Stat(filepath.Join(base, filepath.FromSlash(f))); err != nil {
			t.Errorf("dependency %q: %v", f, err)
		}
	}
}

// renderPNG renders task and decodes the result, failing t on any error.
func renderPNG(t *testing.T, b render.Backend, task render.Task) image.Image {
	t.Helper()
	res, err := b.Render(t.Context(), task, nil)
	if err != nil {
		t.Fatalf("Render frame %d: %v", task.Frame, err)
	}
	rel, err := filepath.Rel(task.OutputDir, res.Path)
	if err != nil || !filepath.IsLocal(rel) {
		t.Fatalf("result %s is outside the output dir %s", res.Path, task.OutputDir)
	}
	if res.CPU <= 0 {
		t.Fatalf("render of frame %d reports %v of CPU time; a volunteer's claim is made of it", task.Frame, res.CPU)
	}
	data, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decoding %s: %v", res.Path, err)
	}
	want := task.Region()
	if b := img.Bounds(); b.Dx() != want.Dx() || b.Dy() != want.Dy() || res.Width != want.Dx() || res.Height != want.Dy() {
		t.Fatalf("got a %dx%d PNG (result says %dx%d), want %dx%d",
			b.Dx(), b.Dy(), res.Width, res.Height, want.Dx(), want.Dy())
	}
	return img
}

func testFrameSize(t *testing.T, s Suite) {
	img := renderPNG(t, s.Backend, s.task(t, s.FrameA))
	if isConstant(img) {
		t.Errorf("frame %d is a single colour", s.FrameA)
	}
	odd := s.task(t, s.FrameA)
	odd.Width, odd.Height = s.Width+3, s.Height+1 // sizes not multiple of any tile size
	renderPNG(t, s.Backend, odd)
}

func testFramesDiffer(t *testing.T, s Suite, info render.Info) {
	if !info.Capabilities.Animation {
		t.Skip("backend does not claim animation")
	}
	a := renderPNG(t, s.Backend, s.task(t, s.FrameA))
	b := renderPNG(t, s.Backend, s.task(t, s.FrameB))
	if n, _ := diffPixels(a, b); n == 0 {
		t.Errorf("frames %d and %d are identical", s.FrameA, s.FrameB)
	}
}

func testProgress(t *testing.T, s Suite) {
	var got []float64
	_, err := s.Backend.Render(t.Context(), s.task(t, s.FrameA), func(p render.Progress) {
		got = append(got, p.Fraction)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		t.Fatal("no progress reported")
	}
	for i, f := range got {
		if f < 0 || f > 1 || (i > 0 && f < got[i-1]) {
			t.Fatalf("progress %v is not non-decreasing within 0..1", got)
		}
	}
	if got[len(got)-1] != 1 {
		t.Errorf("last progress %v, want 1", got[len(got)-1])
	}
}

func testCancel(t *testing.T, s Suite) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	task := s.task(t, s.FrameA)
	task.Samples = s.SlowSamples
	var cancelled time.Time
	_, err := s.Backend.Render(ctx, task, func(render.Progress) {
		if cancelled.IsZero() {
			cancelled = time.Now()
			cancel()
		}
	})
	if cancelled.IsZero() {
		t.Fatal("no progress reported, so the test could not cancel")
	}
	if took := time.Since(cancelled); took > s.CancelWithin {
		t.Errorf("Render returned %v after cancellation, want within %v", took, s.CancelWithin)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Render after cancel: err = %v, want context.Canceled", err)
	}
	if names := files(t, task.OutputDir); len(names) != 0 {
		t.Errorf("cancelled render left %v in the output dir", names)
	}
}

func testCancelledBefore(t *testing.T, s Suite) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Backend.Render(ctx, s.task(t, s.FrameA), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Render with a cancelled context: err = %v, want context.Canceled", err)
	}
}

func testMissingScene(t *testing.T, s Suite) {
	task := s.task(t, s.FrameA)
	task.SceneFile = "no-such-scene" + filepath.Ext(s.SceneFile)
	if _, err := s.Backend.Render(t.Context(), task, nil); !errors.Is(err, render.ErrSceneInvalid) {
		t.Errorf("Render of a missing scene: err = %v, want render.ErrSceneInvalid", err)
	}
	missing := filepath.Join(s.SceneDir, "no-such-scene"+filepath.Ext(s.SceneFile))
	if _, err := s.Backend.Inspect(t.Context(), missing); !errors.Is(err, render.ErrSceneInvalid) {
		t.Errorf("Inspect of a missing scene: err = %v, want render.ErrSceneInvalid", err)
	}
}

func testBadTask(t *testing.T, s Suite) {
	for name, mod := range map[string]func(*render.Task){
		"zero width":      func(k *render.Task) { k.Width = 0 },
		"huge height":     func(k *render.Task) { k.Height = render.MaxSide + 1 },
		"huge samples":    func(k *render.Task) { k.Samples = render.MaxSamples + 1 },
		"border outside":  func(k *render.Task) { k.Border = &render.Rect{X0: 0, Y0: 0, X1: k.Width + 1, Y1: 1} },
		"empty border":    func(k *render.Task) { k.Border = &render.Rect{X0: 1, Y0: 1, X1: 1, Y1: 2} },
		"no output dir":   func(k *render.Task) { k.OutputDir = "" },
		"negative frame":  func(k *render.Task) { k.Frame = -1 },
		"negative thread": func(k *render.Task) { k.Threads = -1 },
	} {
		task := s.task(t, s.FrameA)
		mod(&task)
		_, err := s.Backend.Render(t.Context(), task, nil)
		if !errors.Is(err, render.ErrTaskInvalid) {
			t.Errorf("%s: err = %v, want render.ErrTaskInvalid", name, err)
		}
	}
}

func testBorderStitch(t *testing.T, s Suite, info render.Info) {
	if !info.Capabilities.Border {
		t.Skip("backend does not claim border support")
	}
	full := renderPNG(t, s.Backend, s.task(t, s.FrameA))
	mx, my := s.Width/2-1, s.Height/2+1 // uneven split
	stitched := image.NewRGBA(image.Rect(0, 0, s.Width, s.Height))
	for _, r := range []render.Rect{
		{X0: 0, Y0: 0, X1: mx, Y1: my}, {X0: mx, Y0: 0, X1: s.Width, Y1: my},
		{X0: 0, Y0: my, X1: mx, Y1: s.Height}, {X0: mx, Y0: my, X1: s.Width, Y1: s.Height},
	} {
		task := s.task(t, s.FrameA)
		task.Border = &r
		tile := renderPNG(t, s.Backend, task)
		draw.Draw(stitched, r.Image(), tile, tile.Bounds().Min, draw.Src)
	}
	if n, at := diffPixels(full, stitched); n != 0 {
		t.Errorf("four border tiles stitched differ from the full frame in %d pixels (first at %v)", n, at)
	}
}

func testDeterministic(t *testing.T, s Suite, info render.Info) {
	if !info.Capabilities.Deterministic {
		t.Skip("backend does not claim determinism")
	}
	task := s.task(t, s.FrameB)
	a := renderPNG(t, s.Backend, task)
	task.OutputDir = t.TempDir()
	task.Threads = 1
	b := renderPNG(t, s.Backend, task)
	if n, at := diffPixels(a, b); n != 0 {
		t.Errorf("re-rendering with 1 thread changed %d pixels (first at %v)", n, at)
	}
}

func testSceneUntouched(t *testing.T, s Suite) {
	before := snapshot(t, s.SceneDir)
	renderPNG(t, s.Backend, s.task(t, s.FrameA))
	if after := snapshot(t, s.SceneDir); after != before {
		t.Errorf("rendering changed the scene directory:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// snapshot lists every file under dir with its size and modification time.
func snapshot(t *testing.T, dir string) string {
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func files(t *testing.T, dir string) []string {
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// diffPixels counts the pixels whose 16-bit RGBA differ, comparing a and b
// by position relative to their bounds' minima.
func diffPixels(a, b image.Image) (int, image.Point) {
	ab, bb := a.Bounds(), b.Bounds()
	if ab.Dx() != bb.Dx() || ab.Dy() != bb.Dy() {
		return ab.Dx() * ab.Dy(), image.Point{}
	}
	n, first := 0, image.Point{-1, -1}
	for y := range ab.Dy() {
		for x := range ab.Dx() {
			r1, g1, b1, a1 := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, a2 := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				if n == 0 {
					first = image.Pt(x, y)
				}
				n++
			}
		}
	}
	return n, first
}

func isConstant(img image.Image) bool {
	b := img.Bounds()
	c0 := img.At(b.Min.X, b.Min.Y)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if img.At(x, y) != c0 {
				return false
			}
		}
	}
	return true
}
