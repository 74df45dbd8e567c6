package blender

import (
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/render/rendertest"
)

func TestBorderFractions(t *testing.T) {
	// Blender truncates fraction*size to the pixel edge; so must rounding.
	for _, size := range []int{1, 2, 3, 7, 48, 64, 67, 1080, 1920, 4095, render.MaxSide} {
		for p := 0; p <= size; p += max(1, size/97) {
			r := render.Rect{X0: p, Y0: 0, X1: size, Y1: size}
			f := float32(borderFractions(r, size, size)[0])
			if got := int(f * float32(size)); got != p {
				t.Fatalf("size %d edge %d: int(%v*size) = %d", size, p, f, got)
			}
		}
	}
	got := borderFractions(render.Rect{X0: 0, Y0: 0, X1: 10, Y1: 10}, 20, 40)
	if got[0] != 0 || got[2] != (30+0.25)/40 || got[3] != 1 {
		t.Errorf("y is not flipped: %v", got)
	}
}

func TestProgressParser(t *testing.T) {
	var p progressParser
	var got []float64
	for _, l := range []string{
		"Read blend: /x.blend",
		"Fra:1 Mem:10.00M (Peak 10.00M) | Time:00:00.01 | Syncing Cube",
		"Fra:1 Mem:10.00M | Time:00:00.10 | Mem:0.10M, Peak:0.10M | Scene, ViewLayer | Sample 8/16",
		"Fra:1 Mem:10.00M | Time:00:00.20 | Mem:0.10M, Peak:0.10M | Scene, ViewLayer | Sample 16/16",
		"Fra:1 Mem:10.00M | Time:00:00.20 | Mem:0.10M, Peak:0.10M | Scene, Other | Sample 1/16",
		"Fra:1 Mem:10.00M | Time:00:00.20 | Rendered 2/4 Tiles",
	} {
		if f, _, ok := p.parse(l); ok {
			got = append(got, f)
		}
	}
	if len(got) != 5 || got[2] != 0.98 || got[4] != 0.98 {
		t.Fatalf("fractions %v", got)
	}
	p, got = progressParser{}, nil
	for _, l := range []string{
		"Fra:1 Mem:10.00M | Time:00:00.20 | Rendered 1/4 Tiles",
		"Fra:1 Mem:10.00M | Scene, ViewLayer | Rendered 1/4 Tiles, Sample 8/16",
		"Fra:1 Mem:10.00M | Scene, ViewLayer | Sample 16/16, Tile 2/4",
		"Fra:1 Mem:10.00M | Scene, ViewLayer | Rendered 2/4 Tiles, Sample 4/16",
		"Fra:1 Mem:10.00M | Scene, ViewLayer | Rendered 4/4 Tiles, Sample 16/16",
	} {
		if f, _, ok := p.parse(l); ok {
			got = append(got, f)
		}
	}
	want := []float64{0.26, 0.38, 0.5, 0.56, 0.98}
	for i := range want {
		if i >= len(got) || got[i] < want[i]-1e-9 || got[i] > want[i]+1e-9 {
			t.Fatalf("tiled fractions %v, want %v", got, want)
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			t.Fatalf("fractions %v decrease", got)
		}
	}
}

func TestProbeUnavailable(t *testing.T) {
	b := &Backend{Program: "no-such-blender-program"}
	if _, err := b.Probe(t.Context()); !errors.Is(err, render.ErrUnavailable) {
		t.Errorf("Probe = %v, want ErrUnavailable", err)
	}
}

func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs Blender ~16 times")
	}
	f := getFixtures(t)
	b := New()
	sb, why := b.Sandboxed()
	t.Logf("sandboxed: %v %s", sb, why)
	rendertest.Run(t, rendertest.Suite{
		Backend:  b,
		SceneDir: filepath.Join(f.dir, "scene"), SceneFile: "anim.blend",
		FrameA: 1, FrameB: 3,
		Width: 64, Height: 48, Samples: 4,
		SlowSamples: 20000,
	})
}

func TestProbe(t *testing.T) {
	requireBlender(t)
	info, err := New().Probe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "blender" || strings.Count(info.Version, ".") != 2 || !info.Capabilities.Border {
		t.Errorf("Probe = %+v", info)
	}
	t.Logf("%+v", info)
}

func TestInspect(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	f := getFixtures(t)
	b := New()
	si, err := b.Inspect(t.Context(), filepath.Join(f.dir, "scene", "anim.blend"))
	if err != nil {
		t.Fatal(err)
	}
	want := render.SceneInfo{FrameStart: 1, FrameEnd: 3, Width: 64, Height: 48, Samples: 16, Files: []string{"tex/checker.png"}}
	if si.FrameStart != want.FrameStart || si.FrameEnd != want.FrameEnd || si.Width != want.Width ||
		si.Height != want.Height || si.Samples != want.Samples || strings.Join(si.Files, ",") != "tex/checker.png" {
		t.Errorf("Inspect = %+v, want %+v", si, want)
	}
	seq, err := b.Inspect(t.Context(), filepath.Join(f.dir, "seq", "seq.blend"))
	if err != nil || strings.Join(seq.Files, ",") != "tex/checker.png,tex/strip.png" {
		t.Errorf("Inspect with a sequencer strip: %+v, %v; want tex/checker.png and tex/strip.png", seq, err)
	}
	linked, err := b.Inspect(t.Context(), filepath.Join(f.dir, "linked", "main.blend"))
	if err != nil || strings.Join(linked.Files, ",") != "lib/lib.blend,lib/tex/checker.png" {
		t.Errorf("Inspect with a linked library: %+v, %v; want lib/lib.blend and lib/tex/checker.png", linked, err)
	}
	for _, c := range []struct{ file, want string }{
		{"abs/abs.blend", "absolute path"},
		{"esc/esc.blend", "outside the scene's directory"},
		{"missing/missing.blend", "file not found"},
	} {
		_, err := b.Inspect(t.Context(), filepath.Join(f.dir, filepath.FromSlash(c.file)))
		if !errors.Is(err, render.ErrSceneInvalid) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "checker.png") {
			t.Errorf("Inspect %s: err = %v, want ErrSceneInvalid naming checker.png: %s", c.file, err, c.want)
		}
	}
	// Not a .blend at all: Blender falls back to its factory scene, which
	// must not be mistaken for the file.
	junk := filepath.Join(t.TempDir(), "junk.blend")
	os.WriteFile(junk, []byte("not a blend file"), 0o644)
	if _, err := b.Inspect(t.Context(), junk); !errors.Is(err, render.ErrSceneInvalid) {
		t.Errorf("Inspect of a junk file: err = %v, want ErrSceneInvalid", err)
	}
}

func renderFile(t *testing.T, b *Backend, task render.Task) (image.Image, error) {
	t.Helper()
	res, err := b.Render(t.Context(), task, nil)
	if err != nil {
		return nil, err
	}
	fh, err := os.Open(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	img, err := png.Decode(fh)
	if err != nil {
		t.Fatal(err)
	}
	return img, nil
}

func TestTextureAndMissingDependency(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	f := getFixtures(t)
	b := New()
	task := render.Task{
		SceneDir: filepath.Join(f.dir, "scene"), SceneFile: "anim.blend", Frame: 1,
		Width: 64, Height: 48, Samples: 4, Seed: 1, OutputDir: t.TempDir(),
	}
	img, err := renderFile(t, b, task)
	if err != nil {
		t.Fatal(err)
	}
	// The plane emits the texture under the Standard view transform: away
	// from the cube, pixels are the checker's two colours.
	near := func(c1, c2 [3]uint32) bool {
		for i := range 3 {
			d := int(c1[i]>>8) - int(c2[i]>>8)
			if d < -6 || d > 6 {
				return false
			}
		}
		return true
	}
	var nA, nB int
	for y := range 48 {
		for x := range 64 {
			r, g, bb, _ := img.At(x, y).RGBA()
			c := [3]uint32{r, g, bb}
			switch {
			case near(c, [3]uint32{uint32(checkerA.R) << 8, uint32(checkerA.G) << 8, uint32(checkerA.B) << 8}):
				nA++
			case near(c, [3]uint32{uint32(checkerB.R) << 8, uint32(checkerB.G) << 8, uint32(checkerB.B) << 8}):
				nB++
			}
		}
	}
	if nA < 300 || nB < 300 {
		t.Errorf("texture not visible: %d pixels of colour A, %d of colour B in 64x48", nA, nB)
	}
	// The same scene without its texture is refused, naming the file,
	// rather than rendered with Blender's pink placeholder.
	task.SceneDir, task.SceneFile, task.OutputDir = f.dir, "missing/missing.blend", t.TempDir()
	_, err = b.Render(t.Context(), task, nil)
	if !errors.Is(err, render.ErrSceneInvalid) || !strings.Contains(err.Error(), "checker.png") {
		t.Errorf("Render without the texture: err = %v, want ErrSceneInvalid naming checker.png", err)
	}
	if names, _ := os.ReadDir(task.OutputDir); len(names) != 0 {
		t.Errorf("failed render left %v", names)
	}
	// An absolute path is refused as well.
	task.SceneFile = "abs/abs.blend"
	if _, err := b.Render(t.Context(), task, nil); !errors.Is(err, render.ErrSceneInvalid) {
		t.Errorf("Render with an absolute texture path: err = %v, want ErrSceneInvalid", err)
	}
}

// TestNoAutoexec: a text block registered to run on load never runs, in
// Inspect or Render, sandboxed or not — while plain Blender with
// --enable-autoexec does run it (so the test can see it).
func TestNoAutoexec(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	f := getFixtures(t)
	blend := filepath.Join(f.dir, "evil", "evil.blend")
	for _, b := range []*Backend{New(), {NoSandbox: true}} {
		if _, err := b.Inspect(t.Context(), blend); err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		_, err := b.Render(t.Context(), render.Task{
			SceneDir: filepath.Join(f.dir, "evil"), SceneFile: "evil.blend", Frame: 2,
			Width: 16, Height: 12, Samples: 1, OutputDir: out,
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{f.marker, filepath.Join(out, "MARKER")} {
			if _, err := os.Stat(m); err == nil {
				t.Fatalf("the scene's script ran (sandbox disabled: %v): %s exists", b.NoSandbox, m)
			}
		}
	}
	// Positive control.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "blender", "-b", "--factory-startup", "--enable-autoexec", blend, "--python-expr", "pass")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := os.Stat(f.marker); err != nil {
		t.Errorf("control: with --enable-autoexec the marker was not written (%v); the test proves nothing", err)
	}
	os.Remove(f.marker)
}

func TestThreadsIdentical(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	f := getFixtures(t)
	b := New()
	for _, file := range []string{"anim.blend", "tiles.blend"} {
		testThreads(t, b, f, file)
	}
}

func testThreads(t *testing.T, b *Backend, f fixtures, file string) {
	var imgs []image.Image
	for _, th := range []int{1, 2} {
		task := render.Task{
			SceneDir: filepath.Join(f.dir, "scene"), SceneFile: file, Frame: 2,
			Width: 40, Height: 30, Samples: 8, Seed: 99, Threads: th, OutputDir: t.TempDir(),
		}
		tiled, last := false, 0.0
		res, err := b.Render(t.Context(), task, func(p render.Progress) {
			tiled = tiled || strings.Contains(p.Message, "Tiles")
			if p.Fraction < last {
				t.Errorf("progress went back from %v to %v", last, p.Fraction)
			}
			last = p.Fraction
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := file == "tiles.blend"; tiled != want {
			t.Errorf("%s: rendered in tiles: %v, want %v", file, tiled, want)
		}
		fh, err := os.Open(res.Path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(fh)
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	if n := diff(imgs[0], imgs[1]); n != 0 {
		t.Errorf("%s: 1 vs 2 threads: %d pixels differ", file, n)
	}
}

func diff(a, b image.Image) int {
	n := 0
	ab, bb := a.Bounds(), b.Bounds()
	if ab.Size() != bb.Size() {
		return ab.Dx() * ab.Dy()
	}
	for y := range ab.Dy() {
		for x := range ab.Dx() {
			r1, g1, b1, a1 := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, a2 := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				n++
			}
		}
	}
	return n
}
