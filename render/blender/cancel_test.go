package blender

import (
	"context"
	"errors"
	"image"
	"image/draw"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/render"
)

// runningWith lists processes whose command line mentions s.
func runningWith(s string) []string {
	var found []string
	ds, _ := os.ReadDir("/proc")
	for _, d := range ds {
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), s) {
			found = append(found, d.Name())
		}
	}
	return found
}

// TestCancelMidRender cancels once Cycles is sampling: Render returns
// promptly, leaves nothing, and no Blender (or bwrap) process survives.
func TestCancelMidRender(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	f := getFixtures(t)
	for _, b := range []*Backend{New(), {NoSandbox: true}} {
		ctx, cancel := context.WithCancel(t.Context())
		out := t.TempDir()
		var at time.Time
		_, err := b.Render(ctx, render.Task{
			SceneDir: filepath.Join(f.dir, "scene"), SceneFile: "anim.blend", Frame: 1,
			Width: 64, Height: 48, Samples: 50000, OutputDir: out,
		}, func(p render.Progress) {
			if at.IsZero() && strings.HasPrefix(p.Message, "Sample") && p.Fraction > 0.02 {
				at = time.Now()
				cancel()
			}
		})
		cancel()
		if at.IsZero() {
			t.Fatalf("no sample progress before the end (err %v)", err)
		}
		if took := time.Since(at); took > time.Second {
			t.Errorf("Render returned %v after cancellation", took)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if names, _ := os.ReadDir(out); len(names) != 0 {
			t.Errorf("cancelled render left %v", names)
		}
		if ps := runningWith(out); len(ps) != 0 {
			time.Sleep(200 * time.Millisecond)
			if ps := runningWith(out); len(ps) != 0 {
				t.Errorf("processes %v still running after cancellation (sandbox %v)", ps, !b.NoSandbox)
			}
		}
	}
}

func TestDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	f := getFixtures(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := New().Render(ctx, render.Task{
		SceneDir: filepath.Join(f.dir, "scene"), SceneFile: "anim.blend", Frame: 1,
		Width: 64, Height: 48, Samples: 50000, OutputDir: t.TempDir(),
	}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("Render took %v with a 2.5 s deadline", took)
	}
}

// TestBorderOddSize stitches four uneven tiles of an odd-sized frame (plus
// a one-pixel tile at the bottom-right corner) against the full frame, for
// a scene Cycles renders in one piece and one it renders in 16x16 tiles.
func TestBorderOddSize(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	for _, file := range []string{"anim.blend", "tiles.blend"} {
		t.Run(file, func(t *testing.T) { testBorderOddSize(t, file) })
	}
}

func testBorderOddSize(t *testing.T, file string) {
	f := getFixtures(t)
	b := New()
	const w, h = 67, 45
	task := func(r *render.Rect) render.Task {
		return render.Task{
			SceneDir: filepath.Join(f.dir, "scene"), SceneFile: file, Frame: 2,
			Width: w, Height: h, Samples: 3, Seed: 12345, Border: r, OutputDir: t.TempDir(),
		}
	}
	full, err := renderFile(t, b, task(nil))
	if err != nil {
		t.Fatal(err)
	}
	stitched := image.NewNRGBA(image.Rect(0, 0, w, h))
	rect := func(x0, y0, x1, y1 int) render.Rect { return render.Rect{X0: x0, Y0: y0, X1: x1, Y1: y1} }
	for _, r := range []render.Rect{
		rect(0, 0, 23, 17), rect(23, 0, w, 17), rect(0, 17, 23, h), rect(23, 17, w, h),
	} {
		tile, err := renderFile(t, b, task(&r))
		if err != nil {
			t.Fatal(err)
		}
		if tile.Bounds().Dx() != r.Dx() || tile.Bounds().Dy() != r.Dy() {
			t.Fatalf("tile %v is %v", r, tile.Bounds())
		}
		draw.Draw(stitched, r.Image(), tile, tile.Bounds().Min, draw.Src)
	}
	if n := diff(full, stitched); n != 0 {
		t.Errorf("stitched tiles differ from the full frame in %d pixels", n)
	}
	corner := render.Rect{X0: w - 1, Y0: h - 1, X1: w, Y1: h}
	px, err := renderFile(t, b, task(&corner))
	if err != nil {
		t.Fatal(err)
	}
	if diff(px, full.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(corner.Image())) != 0 {
		t.Errorf("1x1 corner tile %v differs from the full frame's %v", px.At(0, 0), full.At(w-1, h-1))
	}
}

// TestCrash: a Blender that dies reports its last output line.
func TestCrash(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "fake-blender")
	os.WriteFile(fake, []byte(`#!/bin/sh
if [ "$1" = --version ]; then echo "Blender 9.9.9"; exit 0; fi
echo "Read blend: somewhere"
echo "Fra:1 Mem:1M | Sample 1/4"
echo "Writing: /tmp/blender.crash.txt"
echo "Segmentation fault (core dumped)"
exit 139
`), 0o755)
	scene := filepath.Join(dir, "scene")
	os.Mkdir(scene, 0o755)
	os.WriteFile(filepath.Join(scene, "s.blend"), []byte("BLENDER"), 0o644)
	for _, b := range []*Backend{{Program: fake}, {Program: fake, NoSandbox: true}} {
		info, err := b.Probe(t.Context())
		if err != nil || info.Version != "9.9.9" {
			t.Fatalf("Probe = %+v, %v", info, err)
		}
		out := t.TempDir()
		_, err = b.Render(t.Context(), render.Task{
			SceneDir: scene, SceneFile: "s.blend", Width: 4, Height: 4, OutputDir: out,
		}, nil)
		if err == nil || !strings.Contains(err.Error(), "Segmentation fault") {
			t.Errorf("err = %v, want Blender's last line", err)
		}
		if names, _ := os.ReadDir(out); len(names) != 0 {
			t.Errorf("failed render left %v", names)
		}
	}
}

// TestMemoryLimit: a small frame renders within 2 GiB of address space; a
// large one fails under 1.1 GiB with an out-of-memory error (at the latest
// when Cycles writes its first tile away: the tile's "Rendered" line may
// come first) — while the same frame under 8 GiB finishes a tile (and is
// then cancelled), so it is the limit that stopped it.
func TestMemoryLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	f := getFixtures(t)
	b := New()
	task := render.Task{
		SceneDir: filepath.Join(f.dir, "scene"), SceneFile: "anim.blend", Frame: 1,
		Width: 32, Height: 24, Samples: 1, OutputDir: t.TempDir(), MemoryLimit: 2 << 30,
	}
	if _, err := b.Render(t.Context(), task, nil); err != nil {
		t.Fatalf("small frame under the limit: %v", err)
	}
	if names, _ := os.ReadDir(task.OutputDir); len(names) != 1 {
		t.Errorf("small render left %v", names)
	}
	tileDone := regexp.MustCompile(`Rendered [1-9][0-9]*/[0-9]+ Tiles`)
	huge := func(limit int64, cancelAtTile bool) (sampled bool, err error) {
		task.Width, task.Height, task.MemoryLimit = 8192, 8192, limit
		task.OutputDir = t.TempDir()
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		defer cancel()
		start := time.Now()
		_, err = b.Render(ctx, task, func(p render.Progress) {
			if tileDone.MatchString(p.Message) {
				sampled = true
				if cancelAtTile {
					cancel()
				}
			}
		})
		t.Logf("8192x8192 under %d MiB: finished a tile %v after %v: %v", limit>>20, sampled, time.Since(start).Round(time.Millisecond), err)
		if names, _ := os.ReadDir(task.OutputDir); len(names) != 0 {
			t.Errorf("failed render left %v", names)
		}
		return sampled, err
	}
	// Not cancelled at its first tile: a limit that held nothing back
	// would let it render the whole frame, and succeed.
	if _, err := huge(1100<<20, false); err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("8192x8192 under 1.1 GiB: err %v; want it to fail", err)
	}
	if sampled, err := huge(8<<30, true); !sampled {
		t.Errorf("control: 8192x8192 under 8 GiB never finished a tile (%v): the test proves nothing", err)
	}
}

// TestOutputLimit: a render whose output would pass its output limit fails
// saying so and leaves nothing; the same render under the default limit
// succeeds, and its frame is larger than the small limit.
func TestOutputLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	f := getFixtures(t)
	b := New()
	task := render.Task{
		SceneDir: filepath.Join(f.dir, "scene"), SceneFile: "anim.blend", Frame: 1,
		Width: 160, Height: 120, Samples: 2, OutputDir: t.TempDir(),
	}
	res, err := b.Render(t.Context(), task, nil)
	if err != nil {
		t.Fatalf("under the default output limit: %v", err)
	}
	fi, err := os.Stat(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	task.OutputLimit, task.OutputDir = fi.Size()/2, t.TempDir()
	_, err = b.Render(t.Context(), task, nil)
	t.Logf("a %d-byte frame under a %d-byte output limit: %v", fi.Size(), task.OutputLimit, err)
	if !errors.Is(err, render.ErrTaskInvalid) || !strings.Contains(err.Error(), "output limit") {
		t.Errorf("err = %v, want ErrTaskInvalid naming the output limit", err)
	}
	if names, _ := os.ReadDir(task.OutputDir); len(names) != 0 {
		t.Errorf("failed render left %v", names)
	}
}
