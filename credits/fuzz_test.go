package credits

import (
	"errors"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/renderswarm/renderswarm/job"
)

// Results come from strangers: any bytes must give a verdict or an error,
// never a panic.
func FuzzVerdict(f *testing.F) {
	const side = 16
	ref := render(1, side, side)
	f.Add(encodePNG(f, ref, png.BestSpeed))
	f.Add(encodePNG(f, render(2, side, side), png.NoCompression))
	f.Add(encodePNG(f, image.NewGray16(image.Rect(0, 0, side, side)), png.BestSpeed))
	f.Add(encodePNG(f, image.NewPaletted(image.Rect(0, 0, side, side), color.Palette{color.Black, color.White}), png.BestSpeed))
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := Decode(b, image.Pt(side, side))
		if err != nil {
			if !errors.Is(err, ErrUndecodable) && !errors.Is(err, ErrWrongSize) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if img.Bounds().Size() != image.Pt(side, side) {
			t.Fatalf("Decode returned %v", img.Bounds())
		}
		_ = Sanity(img, image.Pt(side, side))
		d := Digest(img)
		for _, name := range []string{job.ProfileExact, job.ProfileCyclesCPU, job.ProfilePOVRay, job.ProfilePOVRayNoisy} {
			p, _ := ProfileFor(name)
			c, err := Compare(p, ref, img)
			if err != nil {
				t.Fatal(err)
			}
			if c.Exact != (d == Digest(ref)) {
				t.Fatalf("Exact %v but digests equal %v", c.Exact, d == Digest(ref))
			}
		}
	})
}
