package credits

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/renderswarm/renderswarm/job"
)

// Compare must make DESIGN.md §5's decisions on honest and cheating pairs.
func TestCompareDecisions(t *testing.T) {
	ref := roundTrip(t, render(10, testW, testH))
	const (
		exact = job.ProfileExact
		cyc   = job.ProfileCyclesCPU
		povST = job.ProfilePOVRay
		povMT = job.ProfilePOVRayNoisy
	)
	all := []string{exact, cyc, povST, povMT}
	for _, tc := range []struct {
		name  string
		img   image.Image
		match []string // profiles that must accept; all others must reject
	}{
		{"identical render", render(10, testW, testH), all},
		{"few pixels slightly off (Cycles on another CPU kernel)", fewPixelsOff(ref, 17, 5), []string{cyc, povST, povMT}},
		{"POV-Ray multi-threaded jitter", jitterNoise(ref, 10), []string{povMT}},
		{"+2/255 brightness everywhere", addAll(ref, 2), nil},
		{"-1/255 brightness everywhere", addAll(ref, -1), nil},
		{"8x8 garbage block", garbageBlock(ref, 150, 100), nil},
		{"half resolution upscaled", halfResUpscaled(10), nil},
		{"neighbouring frame", render(11, testW, testH), nil},
		{"frame shifted by 5", render(15, testW, testH), nil},
		{"faint local edit (only the worst tile sees it)", localEdit(ref, 100, 3), []string{povMT}},
		{"blank", constant(testW, testH, color.NRGBA{0, 0, 0, 255}), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := roundTrip(t, tc.img)
			for _, name := range all {
				p, err := ProfileFor(name)
				if err != nil {
					t.Fatal(err)
				}
				c, err := Compare(p, ref, got)
				if err != nil {
					t.Fatal(err)
				}
				want := contains(tc.match, name)
				if c.Match != want {
					t.Errorf("%s: match = %v, want %v (%s; %+v)", name, c.Match, want, c.Reason, c.Metrics)
				}
				if want != (c.Err() == nil) || !want && !errors.Is(c.Err(), ErrMismatch) {
					t.Errorf("%s: Err() = %v disagrees with Match", name, c.Err())
				}
				// Every cheat DESIGN.md measured scored at most 51 dB.
				if len(tc.match) == 0 && c.Metrics.PSNR > 51 && c.Metrics.WorstTilePSNR > 51 {
					t.Errorf("%s: cheat scores %.1f dB overall and %.1f dB worst tile", name, c.Metrics.PSNR, c.Metrics.WorstTilePSNR)
				}
			}
		})
	}
}

// localEdit moves n pixels of the 32×32 tile at (64, 64) by delta.
func localEdit(img *image.NRGBA, n, delta int) *image.NRGBA {
	out := clone(img)
	for k := range n {
		i := out.PixOffset(64+k%32, 64+k/32)
		for c := range 3 {
			out.Pix[i+c] = clamp8(float64(int(out.Pix[i+c]) + delta))
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestCompareMetrics(t *testing.T) {
	ref := render(3, testW, testH)
	p, _ := ProfileFor(job.ProfileCyclesCPU)

	c, _ := Compare(p, ref, clone(ref))
	if !c.Exact || !c.Match || c.Metrics.PSNR != MaxPSNR || c.Metrics.Pixels != testW*testH {
		t.Errorf("identical: %+v", c)
	}
	c, _ = Compare(p, ref, addAll(ref, 2))
	m := c.Metrics
	// +2 on every colour channel: MSE 4 (bar a few clamped pixels), bias 2.
	if m.PSNR < 42 || m.PSNR > 42.2 || m.LumaBias > -1.99 || m.LumaBias < -2 || m.Off8 != 0 {
		t.Errorf("+2 brightness metrics: %+v", m)
	}
	c, _ = Compare(p, ref, localEdit(ref, 100, 3))
	if c.Match || !strings.Contains(c.Reason, "worst tile") || c.Metrics.PSNR < 60 {
		t.Errorf("faint local edit: %s %+v", c.Reason, c.Metrics)
	}
	c, _ = Compare(p, ref, garbageBlock(ref, 0, 0))
	if c.Metrics.Off8 < 50 || c.Metrics.Off8 > 64 || c.Metrics.WorstTilePSNR >= c.Metrics.PSNR {
		t.Errorf("garbage block metrics: %+v", c.Metrics)
	}
	if _, err := Compare(p, ref, render(3, testW+1, testH)); !errors.Is(err, ErrWrongSize) {
		t.Errorf("different sizes: err = %v, want ErrWrongSize", err)
	}
	if _, err := ProfileFor("ssim"); !errors.Is(err, ErrUnknownProfile) {
		t.Errorf("ProfileFor(ssim): err = %v", err)
	}
}

// A garbage block in the bottom-right corner, where the 32×32 grid does not
// fit evenly (320×240: the last row of windows is moved in), is still seen by
// the worst-tile PSNR; and one honest pixel at the edge does not fail it.
func TestWorstTileEdges(t *testing.T) {
	ref := render(1, testW, 250)
	p, _ := ProfileFor(job.ProfileCyclesCPU)
	edgy := clone(ref)
	i := edgy.PixOffset(testW-1, 249)
	edgy.Pix[i] = clamp8(float64(edgy.Pix[i]) + 5)
	if c, _ := Compare(p, ref, edgy); !c.Match || c.Metrics.WorstTilePSNR < 60 {
		t.Errorf("one honest edge pixel: %+v %s", c.Metrics, c.Reason)
	}
	if got := windowStarts(250, 32); got[len(got)-1] != 218 || len(got) != 8 {
		t.Errorf("windowStarts(250, 32) = %v", got)
	}
	if got := windowStarts(20, 20); len(got) != 1 || got[0] != 0 {
		t.Errorf("windowStarts(20, 20) = %v", got)
	}
}

// A publisher's crop check compares a small re-render with the same region
// of the accepted frame.
func TestCompareCrop(t *testing.T) {
	full := render(4, testW, testH)
	region := image.Rect(100, 60, 164, 124)
	crop := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		copy(crop.Pix[y*crop.Stride:(y+1)*crop.Stride], full.Pix[full.PixOffset(100, 60+y):])
	}
	p, _ := ProfileFor(job.ProfileExact)
	c, err := Compare(p, full.SubImage(region), crop)
	if err != nil || !c.Exact {
		t.Fatalf("crop of the same frame: %+v, %v", c, err)
	}
	c, _ = Compare(p, full.SubImage(region.Add(image.Pt(1, 0))), crop)
	if c.Match {
		t.Fatal("crop shifted by one pixel matched")
	}
}

func TestDecodeAndSanity(t *testing.T) {
	img := render(2, testW, testH)
	size := image.Pt(testW, testH)
	fast := encodePNG(t, img, png.BestSpeed)
	best := encodePNG(t, img, png.BestCompression)
	if bytes.Equal(fast, best) {
		t.Fatal("test needs two different encodings")
	}
	a, err := Decode(fast, size)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Decode(best, size)
	if err != nil {
		t.Fatal(err)
	}
	if Digest(a) != Digest(b) || Digest(a) != Digest(img) {
		t.Fatal("same pixels, different file bytes: digests differ")
	}
	// A 16-bit PNG of the same 8-bit pixels decodes to the same digest.
	wide := image.NewNRGBA64(img.Rect)
	for y := range testH {
		for x := range testW {
			c := img.NRGBAAt(x, y)
			wide.SetNRGBA64(x, y, color.NRGBA64{uint16(c.R) * 257, uint16(c.G) * 257, uint16(c.B) * 257, 0xffff})
		}
	}
	c, err := Decode(encodePNG(t, wide, png.DefaultCompression), size)
	if err != nil || Digest(c) != Digest(img) {
		t.Fatalf("16-bit PNG: digest differs (err %v)", err)
	}
	if err := Sanity(a, size); err != nil {
		t.Fatalf("Sanity of a render: %v", err)
	}

	for _, tc := range []struct {
		name string
		png  []byte
		want error
	}{
		{"wrong size", encodePNG(t, render(2, testW+1, testH), png.DefaultCompression), ErrWrongSize},
		{"half size", encodePNG(t, render(2, testW/2, testH/2), png.DefaultCompression), ErrWrongSize},
		{"garbage", []byte("GIF89a not a png"), ErrUndecodable},
		{"empty", nil, ErrUndecodable},
		{"truncated", fast[:len(fast)/2], ErrUndecodable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode(tc.png, size); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	blank, err := Decode(encodePNG(t, constant(testW, testH, color.NRGBA{20, 20, 20, 255}), png.DefaultCompression), size)
	if err != nil {
		t.Fatal(err)
	}
	if err := Sanity(blank, size); !errors.Is(err, ErrConstant) {
		t.Fatalf("blank frame: err = %v, want ErrConstant", err)
	}
	if err := Sanity(a, image.Pt(testW, testH+1)); !errors.Is(err, ErrWrongSize) {
		t.Fatalf("Sanity size: err = %v, want ErrWrongSize", err)
	}
	if _, err := Decode(fast, image.Pt(0, 0)); !errors.Is(err, ErrWrongSize) {
		t.Fatalf("Decode with no expected size: err = %v", err)
	}
}

// The digest definition is part of the protocol: pin it on a 2×1 image.
func TestDigestGolden(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	copy(img.Pix, []byte{1, 2, 3, 255, 250, 128, 0, 7})
	// sha256(00000002 00000001 010203ff fa800007), computed independently.
	const want = "0e197c87e5c83a2a34da27cb0d83393a4acf755b437e1bdad012be6ab496d0dd"
	if got := Digest(img).String(); got != want {
		t.Fatalf("digest = %s, want %s", got, want)
	}
	// The same pixels at another origin, or premultiplied, hash the same.
	moved := image.NewNRGBA(image.Rect(5, 5, 7, 6))
	copy(moved.Pix, img.Pix)
	if Digest(moved) != Digest(img) {
		t.Error("digest depends on the image origin")
	}
	opaque := image.NewRGBA(image.Rect(0, 0, 1, 1))
	copy(opaque.Pix, []byte{9, 8, 7, 255})
	if Digest(opaque) != Digest(NRGBA(opaque)) || !bytes.Equal(NRGBA(opaque).Pix, []byte{9, 8, 7, 255}) {
		t.Error("RGBA image converts wrongly")
	}
}

func TestCheckCommitment(t *testing.T) {
	d := Digest(render(1, 16, 16))
	salt, err := job.NewSalt(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := job.Commit(salt, d)
	if err := CheckCommitment(c, salt, d); err != nil {
		t.Fatalf("honest commitment: %v", err)
	}
	// Copying another volunteer's digest does not open one's own commitment.
	other := Digest(render(2, 16, 16))
	if err := CheckCommitment(c, salt, other); !errors.Is(err, ErrCommitment) {
		t.Fatalf("wrong digest: err = %v", err)
	}
	salt2, _ := job.NewSalt(nil)
	if err := CheckCommitment(c, salt2, d); !errors.Is(err, ErrCommitment) {
		t.Fatalf("wrong salt: err = %v", err)
	}
}

// The RGBA fast path converts exactly like color.NRGBAModel.
func TestNRGBAFromRGBA(t *testing.T) {
	src := image.NewRGBA(image.Rect(2, 3, 6, 5))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 37)
	}
	for i := 3; i < len(src.Pix); i += 4 {
		src.Pix[i] = max(src.Pix[i], src.Pix[i-1], src.Pix[i-2], src.Pix[i-3]) // valid premultiplied
	}
	src.Pix[3] = 255
	got := NRGBA(src)
	for y := range 2 {
		for x := range 4 {
			want := color.NRGBAModel.Convert(src.At(2+x, 3+y)).(color.NRGBA)
			if g := got.NRGBAAt(x, y); g != want {
				t.Fatalf("pixel %d,%d = %v, want %v", x, y, g, want)
			}
		}
	}
}

func BenchmarkCompareFullHD(b *testing.B) {
	ref := render(1, 1920, 1080)
	other := fewPixelsOff(ref, 17, 5)
	p, _ := ProfileFor(job.ProfileCyclesCPU)
	b.ResetTimer()
	for b.Loop() {
		if c, err := Compare(p, ref, other); err != nil || !c.Match {
			b.Fatal(c, err)
		}
	}
}
