package builtin

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/renderswarm/renderswarm/render"
)

// fixtureTask is a small render of testdata/anim.scene.
func fixtureTask(t testing.TB, frame int) render.Task {
	return render.Task{
		SceneDir: "testdata", SceneFile: "anim.scene", Frame: frame,
		Width: 64, Height: 40, Samples: 4, Seed: 42, OutputDir: t.TempDir(),
	}
}

func renderRGBA(t testing.TB, task render.Task) *image.RGBA {
	t.Helper()
	res, err := New().Render(t.Context(), task, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	rgba := image.NewRGBA(img.Bounds())
	draw.Draw(rgba, rgba.Bounds(), img, img.Bounds().Min, draw.Src)
	return rgba
}

// pixelDigest is SHA-256 over width, height and the RGBA rows, like the
// verifier's exact digest.
func pixelDigest(img *image.RGBA) string {
	h := sha256.New()
	b := img.Bounds()
	h.Write([]byte{byte(b.Dx() >> 8), byte(b.Dx()), byte(b.Dy() >> 8), byte(b.Dy())})
	for y := b.Min.Y; y < b.Max.Y; y++ {
		off := img.PixOffset(b.Min.X, y)
		h.Write(img.Pix[off : off+4*b.Dx()])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestDeterministicAcrossThreadCounts(t *testing.T) {
	var want string
	for _, threads := range []int{1, 2, 8} {
		task := fixtureTask(t, 6)
		task.Threads = threads
		got := pixelDigest(renderRGBA(t, task))
		if want == "" {
			want = got
		} else if got != want {
			t.Errorf("threads=%d: digest %s, want %s (threads=1)", threads, got, want)
		}
	}
}

func TestBorderTilesStitchToFullFrame(t *testing.T) {
	full := renderRGBA(t, fixtureTask(t, 3))
	for _, tc := range []struct {
		name   string
		mx, my int
	}{
		{"quarters", 32, 20}, {"off-grid", 17, 9}, {"thin", 1, 39},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stitched := image.NewRGBA(full.Bounds())
			for _, r := range []render.Rect{
				{X0: 0, Y0: 0, X1: tc.mx, Y1: tc.my}, {X0: tc.mx, Y0: 0, X1: 64, Y1: tc.my},
				{X0: 0, Y0: tc.my, X1: tc.mx, Y1: 40}, {X0: tc.mx, Y0: tc.my, X1: 64, Y1: 40},
			} {
				task := fixtureTask(t, 3)
				task.Border = &r
				task.Threads = 3
				tile := renderRGBA(t, task)
				if tile.Bounds().Dx() != r.Dx() || tile.Bounds().Dy() != r.Dy() {
					t.Fatalf("tile %v is %v", r, tile.Bounds())
				}
				draw.Draw(stitched, r.Image(), tile, image.Point{}, draw.Src)
			}
			if pixelDigest(stitched) != pixelDigest(full) {
				t.Error("stitched border tiles differ from the full frame")
			}
		})
	}
}

func TestFramesDifferAlongAnimation(t *testing.T) {
	seen := map[string]int{}
	for _, f := range []int{1, 4, 7, 10} {
		d := pixelDigest(renderRGBA(t, fixtureTask(t, f)))
		if prev, dup := seen[d]; dup {
			t.Errorf("frames %d and %d are identical", prev, f)
		}
		seen[d] = f
	}
}

func TestSeedChangesNoise(t *testing.T) {
	a := fixtureTask(t, 1)
	b := a
	b.Seed, b.OutputDir = 43, t.TempDir()
	if pixelDigest(renderRGBA(t, a)) == pixelDigest(renderRGBA(t, b)) {
		t.Error("seeds 42 and 43 gave the same pixels")
	}
}

// goldenDigest pins the pixels of fixtureTask(t, 5). If it changes, every
// honest volunteer on the old Version disagrees with the new one: bump
// Version together with this value.
const goldenDigest = "dc5e8eb46720808c1944c4369568c9d764881721fd81779d6fdb06ffa3d04c44"

func TestGoldenPixels(t *testing.T) {
	got := pixelDigest(renderRGBA(t, fixtureTask(t, 5)))
	if got != goldenDigest {
		t.Errorf("pixel digest %s, pinned %s for Version %s: if the change is intended, bump Version and the pin",
			got, goldenDigest, Version)
	}
}

// TestDemoDeterministicAcrossThreadsAndTiles repeats the determinism checks
// on the demo scene (mesh BVH, glass, metal, lamp, sun) at a size where
// every tile boundary and thread interleaving differs.
func TestDemoDeterministicAcrossThreadsAndTiles(t *testing.T) {
	if testing.Short() {
		t.Skip("renders the demo scene four times")
	}
	task := render.Task{SceneDir: "../../examples/builtin", SceneFile: "demo.scene", Frame: 9,
		Width: 150, Height: 84, Samples: 3, Seed: 5}
	var want string
	for _, threads := range []int{1, 2, 8} {
		task.Threads, task.OutputDir = threads, t.TempDir()
		got := pixelDigest(renderRGBA(t, task))
		if want == "" {
			want = got
		} else if got != want {
			t.Errorf("threads=%d: digest differs from threads=1", threads)
		}
	}
	stitched := image.NewRGBA(image.Rect(0, 0, 150, 84))
	for _, r := range []render.Rect{{X0: 0, Y0: 0, X1: 150, Y1: 30}, {X0: 0, Y0: 30, X1: 77, Y1: 84}, {X0: 77, Y0: 30, X1: 150, Y1: 84}} {
		task.Border, task.Threads, task.OutputDir = &r, 2, t.TempDir()
		draw.Draw(stitched, r.Image(), renderRGBA(t, task), image.Point{}, draw.Src)
	}
	if pixelDigest(stitched) != want {
		t.Error("border tiles of the demo frame stitch to different pixels")
	}
}

func TestOutputIsOpaque8BitRGBPNG(t *testing.T) {
	task := fixtureTask(t, 1)
	res, err := New().Render(t.Context(), task, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	// IHDR: bit depth at byte 24, colour type at 25 (2 = truecolour RGB).
	if len(data) < 26 || string(data[12:16]) != "IHDR" || data[24] != 8 || data[25] != 2 {
		t.Errorf("not an 8-bit RGB PNG: IHDR bytes % x", data[8:min(len(data), 29)])
	}
	fi, err := os.Stat(res.Path)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("output mode %v, err %v; want 0644", fi.Mode(), err)
	}
	if want := "frame_0001.png"; filepath.Base(res.Path) != want {
		t.Errorf("output named %s, want %s", filepath.Base(res.Path), want)
	}
}

// TestMemoryLimit: a task whose image would pass its memory limit is
// refused before anything is rendered; under the limit it renders.
func TestMemoryLimit(t *testing.T) {
	task := render.Task{SceneDir: "testdata", SceneFile: "anim.scene", Frame: 1, Width: 8000, Height: 8000,
		Samples: 1, OutputDir: t.TempDir(), MemoryLimit: 512 << 20}
	_, err := New().Render(t.Context(), task, nil)
	if !errors.Is(err, render.ErrTaskInvalid) || !strings.Contains(err.Error(), "memory limit") {
		t.Errorf("8000x8000 under 512 MiB: err = %v, want ErrTaskInvalid naming the memory limit", err)
	}
	task.Width, task.Height, task.MemoryLimit = 16, 12, 64<<20
	if _, err := New().Render(t.Context(), task, nil); err != nil {
		t.Errorf("16x12 under 64 MiB (the least a job may set): %v", err)
	}
}

// RenderImage gives, for a whole frame and for a crop, exactly the pixels
// Render writes (the publisher checks crops with it), and refuses what it
// cannot hold in memory.
func TestRenderImageIsRenderWithoutFiles(t *testing.T) {
	for name, border := range map[string]*render.Rect{"frame": nil, "crop": {X0: 17, Y0: 9, X1: 33, Y1: 19}} {
		t.Run(name, func(t *testing.T) {
			task := fixtureTask(t, 5)
			task.Border = border
			want := renderRGBA(t, task)
			task.OutputDir = ""
			img, err := New().RenderImage(t.Context(), task)
			if err != nil {
				t.Fatal(err)
			}
			got := image.NewRGBA(img.Bounds())
			draw.Draw(got, got.Bounds(), img, img.Bounds().Min, draw.Src)
			if got.Bounds() != want.Bounds() || pixelDigest(got) != pixelDigest(want) {
				t.Fatalf("in memory %v %s, written %v %s", got.Bounds(), pixelDigest(got), want.Bounds(), pixelDigest(want))
			}
		})
	}
	task := fixtureTask(t, 5)
	task.Extras = []string{"depth"}
	if _, err := New().RenderImage(t.Context(), task); !errors.Is(err, render.ErrUnsupported) {
		t.Errorf("extras in memory: %v, want ErrUnsupported", err)
	}
	task = fixtureTask(t, 5)
	task.Width = 0
	if _, err := New().RenderImage(t.Context(), task); !errors.Is(err, render.ErrTaskInvalid) {
		t.Errorf("a frame 0 pixels wide: %v, want ErrTaskInvalid", err)
	}
}
