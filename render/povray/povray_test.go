package povray

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/render/rendertest"
)

// needPOVRay skips t when povray is not installed, unless
// RENDERSWARM_REQUIRE_RENDERERS=1, when it fails.
func needPOVRay(t *testing.T) *Backend {
	t.Helper()
	b := New()
	if _, err := b.Probe(t.Context()); err != nil {
		if os.Getenv("RENDERSWARM_REQUIRE_RENDERERS") == "1" {
			t.Fatalf("POV-Ray required (RENDERSWARM_REQUIRE_RENDERERS=1): %v", err)
		}
		t.Skipf("POV-Ray not installed (apt-get install povray): %v", err)
	}
	return b
}

func TestConformance(t *testing.T) {
	t.Parallel()
	b := needPOVRay(t)
	if testing.Short() {
		t.Skip("slow: about 20 povray runs")
	}
	rendertest.Run(t, rendertest.Suite{
		Backend:  b,
		SceneDir: "testdata", SceneFile: "anim.ini",
		FrameA: 1, FrameB: 6,
		Width: 64, Height: 48, Samples: 1,
		SlowSamples: 81,
	})
}

func TestConformanceSupersampled(t *testing.T) {
	t.Parallel()
	b := needPOVRay(t)
	if testing.Short() {
		t.Skip("slow")
	}
	// Border tiles must stitch exactly with antialiasing on, too.
	rendertest.Run(t, rendertest.Suite{
		Backend:  b,
		SceneDir: "testdata", SceneFile: "anim.pov",
		FrameA: 0, FrameB: 1, // plain .pov: clock = frame
		Width: 40, Height: 30, Samples: 9,
	})
}

func TestProbe(t *testing.T) {
	b := needPOVRay(t)
	info, err := b.Probe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "povray" || !strings.HasPrefix(info.Version, "3.") {
		t.Errorf("Probe = %+v", info)
	}
	t.Logf("POV-Ray %s, bwrap %q", info.Version, b.sandbox())
}

func TestProbeUnavailable(t *testing.T) {
	b := &Backend{Program: "no-such-povray-binary"}
	if _, err := b.Probe(t.Context()); !errors.Is(err, render.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
}

func TestInspectFixture(t *testing.T) {
	needPOVRay(t) // the fixture includes colors.inc, from POV-Ray's library
	si, err := New().Inspect(t.Context(), "testdata/anim.ini")
	if err != nil {
		t.Fatal(err)
	}
	want := render.SceneInfo{FrameStart: 1, FrameEnd: 10, Width: 64, Height: 48, Files: []string{"anim.pov"}}
	if !reflect.DeepEqual(si, want) {
		t.Errorf("Inspect = %+v, want %+v", si, want)
	}
	si, err = New().Inspect(t.Context(), "testdata/anim.pov")
	if err != nil {
		t.Fatal(err)
	}
	want = render.SceneInfo{FrameStart: 1, FrameEnd: 1, Width: DefaultWidth, Height: DefaultHeight}
	if !reflect.DeepEqual(si, want) {
		t.Errorf("Inspect = %+v, want %+v", si, want)
	}
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writePNG(t *testing.T, p string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for y := range 8 {
		for x := range 8 {
			img.Set(x, y, color.RGBA{uint8(x * 32), uint8(y * 32), 200, 255})
		}
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// includeScene writes a scene with a local include (in a subdirectory,
// itself including another local file) and an image map.
func includeScene(t *testing.T) string {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "main.pov"), `#version 3.7;
#include "colors.inc"   // system include: not packed
#include "inc/objects.inc"
/* a comment mentioning "ignored.png" */
// and "also-ignored.inc"
camera { location <0, 0, -3> look_at 0 }
light_source { <2, 4, -3> White }
plane { z, 1 pigment { image_map { png "maps/tex.png" } scale 2 } }
object { Thing }
`)
	writeFile(t, filepath.Join(dir, "inc", "objects.inc"), `#include "inc/colours.inc"
#declare Thing = sphere { 0, 0.7 pigment { MyRed } }
`)
	writeFile(t, filepath.Join(dir, "inc", "colours.inc"), `#declare MyRed = rgb <1, 0.2, 0.1>;
`)
	if err := os.MkdirAll(filepath.Join(dir, "maps"), 0o755); err != nil {
		t.Fatal(err)
	}
	writePNG(t, filepath.Join(dir, "maps", "tex.png"))
	return dir
}

func TestInspectIncludeAndImageMap(t *testing.T) {
	needPOVRay(t) // the scene includes colors.inc, from POV-Ray's library
	dir := includeScene(t)
	si, err := New().Inspect(t.Context(), filepath.Join(dir, "main.pov"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"inc/colours.inc", "inc/objects.inc", "maps/tex.png"}
	if !reflect.DeepEqual(si.Files, want) {
		t.Errorf("Files = %q, want %q", si.Files, want)
	}
}

func TestRenderIncludeAndImageMap(t *testing.T) {
	b := needPOVRay(t)
	dir := includeScene(t)
	res, err := b.Render(t.Context(), render.Task{
		SceneDir: dir, SceneFile: "main.pov", Frame: 1, Width: 32, Height: 24, OutputDir: t.TempDir(),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	img := decode(t, res.Path)
	if b := img.Bounds(); b.Dx() != 32 || b.Dy() != 24 {
		t.Errorf("size %v", b)
	}
}

func decode(t *testing.T, p string) image.Image {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestInspectRejectsEscapes(t *testing.T) {
	for name, src := range map[string]string{
		"dotdot include":   `#include "../secret.inc"`,
		"dotdot nested":    `#include "inc/../../secret.inc"`,
		"absolute include": `#include "/etc/passwd.inc"`,
		"absolute map":     `plane { y, 0 pigment { image_map { png "/tmp/x.png" } } }`,
		"dotdot map":       `height_field { png "../hf.png" }`,
		"missing include":  `#include "nowhere-to-be-found.inc"`,
	} {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "s.pov"), src+"\n")
		if _, err := New().Inspect(t.Context(), filepath.Join(dir, "s.pov")); !errors.Is(err, render.ErrSceneInvalid) {
			t.Errorf("%s: err = %v, want ErrSceneInvalid", name, err)
		}
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "s.ini"), "Input_File_Name=../s.pov\n")
	if _, err := New().Inspect(t.Context(), filepath.Join(dir, "s.ini")); !errors.Is(err, render.ErrSceneInvalid) {
		t.Errorf("ini escaping: err = %v, want ErrSceneInvalid", err)
	}
}

// TestInspectRejectsLinksOut: a file the scene reads (an include, an
// image map in a linked directory, an .ini's scene, the main file itself)
// that resolves outside the scene's folder through a symlink is refused,
// naming it; a link staying inside is fine.
func TestInspectRejectsLinksOut(t *testing.T) {
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "secret.inc"), "#declare S = 1;\n")
	os.MkdirAll(filepath.Join(outside, "maps"), 0o755)
	writePNG(t, filepath.Join(outside, "maps", "x.png"))
	writeFile(t, filepath.Join(outside, "main.pov"), "sphere { 0, 1 }\n")
	for name, c := range map[string]struct{ src, link, target, main, shown string }{
		"include":          {`#include "inc/a.inc"`, "inc/a.inc", "secret.inc", "s.pov", "inc/a.inc"},
		"linked directory": {`plane { y, 0 pigment { image_map { png "maps/x.png" } } }`, "maps", "maps", "s.pov", "maps/x.png"},
		"main file":        {"", "s.pov", "main.pov", "s.pov", "s.pov"},
		"ini's scene":      {"", "in.pov", "main.pov", "s.ini", "in.pov"},
	} {
		dir := t.TempDir()
		if c.src != "" {
			writeFile(t, filepath.Join(dir, "s.pov"), c.src+"\n")
		}
		writeFile(t, filepath.Join(dir, "s.ini"), "Input_File_Name=in.pov\n")
		os.MkdirAll(filepath.Dir(filepath.Join(dir, c.link)), 0o755)
		if err := os.Symlink(filepath.Join(outside, c.target), filepath.Join(dir, c.link)); err != nil {
			t.Fatal(err)
		}
		_, err := New().Inspect(t.Context(), filepath.Join(dir, c.main))
		if !errors.Is(err, render.ErrOutsideScene) || !strings.Contains(err.Error(), c.shown) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want ErrOutsideScene naming %s in one line", name, err, c.shown)
		}
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "inc", "real.inc"), "#declare S = 1;\n")
	writeFile(t, filepath.Join(dir, "s.pov"), `#include "inc/a.inc"`+"\n")
	os.Symlink("real.inc", filepath.Join(dir, "inc", "a.inc"))
	if si, err := New().Inspect(t.Context(), filepath.Join(dir, "s.pov")); err != nil || !reflect.DeepEqual(si.Files, []string{"inc/a.inc"}) {
		t.Errorf("a link inside the folder: %+v, %v", si, err)
	}
}

// TestExampleAnimation inspects and renders frame 1 of one of the
// povray-examples animations.
func TestExampleAnimation(t *testing.T) {
	b := needPOVRay(t)
	const dir = "/usr/share/doc/povray/examples/animations/clockd"
	if _, err := os.Stat(filepath.Join(dir, "clockd.ini")); err != nil {
		t.Skipf("povray-examples not installed: %v", err)
	}
	si, err := b.Inspect(t.Context(), filepath.Join(dir, "clockd.ini"))
	if err != nil {
		t.Fatal(err)
	}
	if si.FrameStart != 1 || si.FrameEnd != 20 || !reflect.DeepEqual(si.Files, []string{"clockd.pov"}) {
		t.Errorf("Inspect = %+v", si)
	}
	out := t.TempDir()
	res, err := b.Render(t.Context(), render.Task{
		SceneDir: dir, SceneFile: "clockd.ini", Frame: 1, Width: 48, Height: 36, OutputDir: out,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Width != 48 || res.Height != 36 {
		t.Errorf("result %+v", res)
	}
	decode(t, res.Path)
}

func TestInvalidScene(t *testing.T) {
	b := needPOVRay(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bad.pov"), "camera { location <0,0,-3> look_at 0 }\nsphere { 0, 1 pigment { rgb 1 } \nbogus_keyword_here 12\n")
	_, err := b.Render(t.Context(), render.Task{
		SceneDir: dir, SceneFile: "bad.pov", Frame: 1, Width: 16, Height: 12, OutputDir: t.TempDir(),
	}, nil)
	if !errors.Is(err, render.ErrSceneInvalid) {
		t.Errorf("err = %v, want ErrSceneInvalid", err)
	}
	if err == nil || !strings.Contains(err.Error(), "povray") {
		t.Errorf("err = %v, want povray's message", err)
	}
	t.Logf("error: %v", err)
}

// TestFailureLoggedLocally: what povray said about a failed render goes to
// this machine's log as written, while the error (for the publisher)
// carries only its sanitized form.
func TestFailureLoggedLocally(t *testing.T) {
	b := needPOVRay(t)
	var logged bytes.Buffer
	b.Logger = slog.New(slog.NewTextHandler(&logged, nil))
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "e.pov"), "#error concat(\"tell \", \"nobody\")\n")
	_, err := b.Render(t.Context(), render.Task{
		SceneDir: dir, SceneFile: "e.pov", Frame: 1, Width: 16, Height: 12, OutputDir: t.TempDir(),
	}, nil)
	if err == nil || strings.Contains(err.Error(), "tell nobody") {
		t.Errorf("err = %v, want a failure without the computed text", err)
	}
	if !strings.Contains(logged.String(), "msg=povrayFailed") || !strings.Contains(logged.String(), "tell nobody") {
		t.Errorf("log = %q, want povray's own words", logged.String())
	}
}

func TestBorderArgs(t *testing.T) {
	got := borderArgs(render.Rect{X0: 0, Y0: 0, X1: 1, Y1: 1}, 10, 10)
	want := []string{"+SC1", "+EC2", "+SR1", "+ER2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("borderArgs = %q, want %q", got, want)
	}
	if got := borderArgs(render.Rect{X0: 0, Y0: 0, X1: 10, Y1: 10}, 10, 10); got != nil {
		t.Errorf("full frame: %q", got)
	}
}

func TestSinglePixelBorder(t *testing.T) {
	t.Parallel()
	b := needPOVRay(t)
	if testing.Short() {
		t.Skip("slow")
	}
	task := render.Task{SceneDir: "testdata", SceneFile: "anim.ini", Frame: 3, Width: 20, Height: 15, OutputDir: t.TempDir()}
	full, err := b.Render(t.Context(), task, nil)
	if err != nil {
		t.Fatal(err)
	}
	fimg := decode(t, full.Path)
	for _, r := range []render.Rect{{X0: 0, Y0: 0, X1: 1, Y1: 1}, {X0: 19, Y0: 14, X1: 20, Y1: 15}, {X0: 5, Y0: 0, X1: 6, Y1: 15}} {
		task.Border = &r
		task.OutputDir = t.TempDir()
		res, err := b.Render(t.Context(), task, nil)
		if err != nil {
			t.Fatal(err)
		}
		img := decode(t, res.Path)
		if img.Bounds().Dx() != r.Dx() || img.Bounds().Dy() != r.Dy() {
			t.Fatalf("%v: got %v", r, img.Bounds())
		}
		for y := r.Y0; y < r.Y1; y++ {
			for x := r.X0; x < r.X1; x++ {
				if a, c := fimg.At(x, y), img.At(x-r.X0+img.Bounds().Min.X, y-r.Y0+img.Bounds().Min.Y); a != c {
					t.Errorf("%v: pixel %d,%d %v != %v", r, x, y, c, a)
				}
			}
		}
	}
}

func TestInspectIniForms(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "s.pov"), "#include \"sub/a.inc\"\n")
	writeFile(t, filepath.Join(dir, "sub", "a.inc"), "// nothing\n")
	for src, want := range map[string]render.SceneInfo{
		"Input_File_Name=\"s.pov\" ; comment\n+KFI2\n+KFF5 +KC +WT2\n+W100 +H50\n": {FrameStart: 2, FrameEnd: 5, Width: 100, Height: 50},
		"Input_File_Name=s.pov\nInitial_Frame=3\nFinal_Frame=\nWidth=10\n":         {FrameStart: 3, FrameEnd: 3, Width: 10, Height: DefaultHeight},
		"[section]\n+Is.pov\nClock=0.5\n":                                          {FrameStart: 1, FrameEnd: 1, Width: DefaultWidth, Height: DefaultHeight},
	} {
		writeFile(t, filepath.Join(dir, "s.ini"), src)
		si, err := New().Inspect(t.Context(), filepath.Join(dir, "s.ini"))
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		want.Files = []string{"s.pov", "sub/a.inc"}
		if !reflect.DeepEqual(si, want) {
			t.Errorf("%q: Inspect = %+v, want %+v", src, si, want)
		}
	}
}

// TestConformanceExample runs the suite on a povray-examples animation
// with its own antialiasing (method 1, threshold 0.3, depth 3; Samples 0).
func TestConformanceExample(t *testing.T) {
	t.Parallel()
	b := needPOVRay(t)
	if testing.Short() {
		t.Skip("slow")
	}
	const dir = "/usr/share/doc/povray/examples/animations/clockd"
	if _, err := os.Stat(filepath.Join(dir, "clockd.ini")); err != nil {
		t.Skipf("povray-examples not installed: %v", err)
	}
	rendertest.Run(t, rendertest.Suite{
		Backend:  b,
		SceneDir: dir, SceneFile: "clockd.ini",
		FrameA: 1, FrameB: 5,
		Width: 48, Height: 36, Samples: 0, SlowSamples: 81,
	})
}

// TestBorderStitchBlocks: with the scene's own adaptive antialiasing
// (threshold 0.3), twelve tiles at uneven positions across several render
// blocks stitch into the full frame exactly.
func TestBorderStitchBlocks(t *testing.T) {
	t.Parallel()
	b := needPOVRay(t)
	if testing.Short() {
		t.Skip("slow")
	}
	const dir = "/usr/share/doc/povray/examples/animations/clockd"
	if _, err := os.Stat(filepath.Join(dir, "clockd.ini")); err != nil {
		t.Skipf("povray-examples not installed: %v", err)
	}
	task := render.Task{SceneDir: dir, SceneFile: "clockd.ini", Frame: 3, Width: 130, Height: 90, OutputDir: t.TempDir()}
	res, err := b.Render(t.Context(), task, nil)
	if err != nil {
		t.Fatal(err)
	}
	full := decode(t, res.Path)
	xs, ys := []int{0, 37, 70, 101, 130}, []int{0, 29, 51, 90}
	diff := 0
	for i := range len(xs) - 1 {
		for j := range len(ys) - 1 {
			r := render.Rect{X0: xs[i], Y0: ys[j], X1: xs[i+1], Y1: ys[j+1]}
			task.Border, task.OutputDir = &r, t.TempDir()
			res, err := b.Render(t.Context(), task, nil)
			if err != nil {
				t.Fatal(err)
			}
			tile := decode(t, res.Path)
			for y := r.Y0; y < r.Y1; y++ {
				for x := r.X0; x < r.X1; x++ {
					if full.At(x, y) != tile.At(x-r.X0, y-r.Y0) {
						if diff == 0 {
							t.Errorf("tile %v differs first at %d,%d", r, x, y)
						}
						diff++
					}
				}
			}
		}
	}
	if diff != 0 {
		t.Errorf("%d pixels differ", diff)
	}
}
