package credits

import (
	"bytes"
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

// Receipts come from strangers: any bytes decode to exactly one receipt
// whose canonical bytes are the input, or give a classified error.
func FuzzUnmarshalReceipt(f *testing.F) {
	r := testReceipt(f)
	b, err := r.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	r.Seq, r.Total, r.Task.Tile = 9, r.CU*9, 3
	b, _ = r.Marshal()
	f.Add(b)
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{"v":2,"seq":1.5}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := UnmarshalReceipt(b)
		if err != nil {
			for _, want := range []error{job.ErrTooLarge, job.ErrTruncated, job.ErrMalformed,
				job.ErrUnsupportedVersion, job.ErrNotCanonical, ErrInvalidReceipt} {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("unclassified error %v", err)
		}
		back, err := r.Marshal()
		if err != nil {
			t.Fatalf("decoded receipt does not re-encode: %v", err)
		}
		if !bytes.Equal(back, b) {
			t.Fatalf("round trip changed the bytes:\n in %q\nout %q", b, back)
		}
	})
}

// The wire form of signed receipts: whatever OpenReceipt accepts verifies
// and re-encodes to the same bytes.
func FuzzOpenReceipt(f *testing.F) {
	pubKey, _ := key(f, 1)
	volKey, _ := key(f, 2)
	s, err := testReceipt(f).Sign(pubKey)
	if err != nil {
		f.Fatal(err)
	}
	wire, _ := s.Marshal()
	f.Add(wire)
	cs, _ := s.Countersign(volKey)
	wire, _ = cs.Marshal()
	f.Add(wire)
	f.Add([]byte(`{"receipt":{},"sig":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, s, err := OpenReceipt(b)
		if err != nil {
			return
		}
		if _, err := s.Verify(); err != nil {
			t.Fatalf("OpenReceipt accepted what Verify rejects: %v", err)
		}
		back, err := s.Marshal()
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("round trip: %v\n in %q\nout %q", err, b, back)
		}
		if again, _ := UnmarshalReceipt(s.Receipt); again != r {
			t.Fatalf("receipt %+v decodes again as %+v", r, again)
		}
	})
}
