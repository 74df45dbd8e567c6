package blender

import (
	"context"
	"errors"
	"image"
	"image/draw"
	"os"
	"path/filepath"
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
// huge one fails (within 1.1 GiB) with an error instead of taking the machine's memory.
func TestMemoryLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	f := getFixtures(t)
	b := &Backend{MemoryLimit: 2 << 30}
	task := render.Task{
		SceneDir: filepath.Join(f.dir, "scene"), SceneFile: "anim.blend", Frame: 1,
		Width: 32, Height: 24, Samples: 1, OutputDir: t.TempDir(),
	}
	if _, err := b.Render(t.Context(), task, nil); err != nil {
		t.Fatalf("small frame under the limit: %v", err)
	}
	if names, _ := os.ReadDir(task.OutputDir); len(names) != 1 {
		t.Errorf("small render left %v", names)
	}
	b = &Backend{MemoryLimit: 1100 << 20}
	task.Width, task.Height = 8000, 8000
	task.OutputDir = t.TempDir()
	start := time.Now()
	_, err := b.Render(t.Context(), task, nil)
	t.Logf("huge frame: %v after %v", err, time.Since(start))
	if err == nil || !strings.Contains(err.Error(), "memory limit") {
		t.Errorf("huge frame under the limit: err = %v, want a failure mentioning the memory limit", err)
	}
	if names, _ := os.ReadDir(task.OutputDir); len(names) != 0 {
		t.Errorf("failed render left %v", names)
		b, _ := os.ReadFile(filepath.Join(task.OutputDir, names[0].Name()))
		t.Logf("%.300s", b)
	}
}
