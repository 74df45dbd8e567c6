package publisher

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/examples"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/render/builtin"
)

// renderPNG renders one frame of the demo scene and returns its PNG bytes.
func renderPNG(t *testing.T, dir string, frame, w, h, threads int) []byte {
	t.Helper()
	out := t.TempDir()
	res, err := builtin.New().Render(context.Background(), render.Task{SceneDir: dir, SceneFile: examples.DemoScene,
		Frame: frame, Width: w, Height: h, Samples: 4, OutputDir: out, Threads: threads}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func encode(t *testing.T, img image.Image) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The verification pipeline on real renders of the demo scene, as the
// publisher runs it: decode at the task's size, sanity, digest, compare.
func TestVerificationOnRealRenders(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "scene")
	if err := examples.WriteBuiltin(dir); err != nil {
		t.Fatal(err)
	}
	const w, h = 96, 54
	size := image.Pt(w, h)
	decode := func(b []byte) image.Image {
		img, err := checkResult(b, size)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	frame1 := decode(renderPNG(t, dir, 1, w, h, 1))
	again := decode(renderPNG(t, dir, 1, w, h, 2)) // another volunteer, other thread count
	frame2 := decode(renderPNG(t, dir, 2, w, h, 1))
	slightly := image.NewNRGBA(frame1.Bounds())
	copy(slightly.Pix, frame1.(*image.NRGBA).Pix)
	for i := 0; i < 12; i++ { // 12 pixels off by 4/255, like an honest other CPU kernel
		slightly.Pix[(i*131%(w*h))*4] += 4
	}
	exact, _ := credits.ProfileFor(job.ProfileExact)
	cycles, _ := credits.ProfileFor(job.ProfileCyclesCPU)

	for _, tc := range []struct {
		name    string
		profile credits.Profile
		a, b    image.Image
		match   bool
	}{
		{"identical renders, exact", exact, frame1, again, true},
		{"wrong frame, exact", exact, frame1, frame2, false},
		{"wrong frame, tolerant", cycles, frame1, frame2, false},
		{"a few pixels off, exact", exact, frame1, slightly, false},
		{"a few pixels off, tolerant", cycles, frame1, slightly, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := credits.Compare(tc.profile, tc.a, tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if c.Match != tc.match {
				t.Fatalf("match = %v (%s), want %v", c.Match, c.Reason, tc.match)
			}
		})
	}
	if credits.Digest(frame1) != credits.Digest(again) {
		t.Fatal("identical renders have different pixel digests")
	}

	// A blank frame (the cheapest cheat, but also a fade to black) is never
	// accepted on one result, even when the job asks for one replica.
	blank, err := checkResult(encode(t, image.NewNRGBA(image.Rect(0, 0, w, h))), size)
	if err != nil {
		t.Fatal(err)
	}
	if err := credits.Sanity(blank, size); !errors.Is(err, credits.ErrConstant) {
		t.Fatalf("blank image: sanity = %v, want ErrConstant", err)
	}
	if d, _, err := credits.DecideImages(exact, []image.Image{blank}, 1, 3); err != nil || d.Verdict == job.Accept {
		t.Fatalf("a lone blank result: %v, %v; want it not accepted", d.Verdict, err)
	}
	if d, _, _ := credits.DecideImages(exact, []image.Image{frame1}, 1, 3); d.Verdict != job.Accept {
		t.Fatalf("a lone real render with quorum 1: %v, want accepted", d.Verdict)
	}
	small := renderPNG(t, dir, 1, w/2, h/2, 1)
	if _, err := checkResult(small, size); !errors.Is(err, credits.ErrWrongSize) {
		t.Fatalf("half-size image: err = %v, want ErrWrongSize", err)
	}
	if _, err := checkResult([]byte("not a png"), size); err == nil {
		t.Fatal("garbage bytes accepted as an image")
	}
}
