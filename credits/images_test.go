package credits

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"testing"
)

// The test images stand in for real renders: a shaded sphere that moves with
// the frame number over a textured floor, with per-pixel noise like a path
// tracer's. The variants reproduce DESIGN.md §5's honest differences and
// cheats.

const testW, testH = 320, 240 // 76,800 pixels, as measured in DESIGN.md

// hash32 is a small integer hash for deterministic per-pixel noise.
func hash32(x, y, salt int) uint32 {
	h := uint32(x)*0x8da6b343 ^ uint32(y)*0xd8163841 ^ uint32(salt)*0xcb1ab31f
	h ^= h >> 15
	h *= 0x2c1b3c6d
	h ^= h >> 12
	return h
}

func clamp8(v float64) uint8 {
	return uint8(max(0, min(255, math.Round(v))))
}

// render draws frame f at w×h.
func render(f, w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	cx, cy, r := (0.3+0.01*float64(f))*float64(w), 0.45*float64(h), 0.25*float64(h)
	for y := range h {
		for x := range w {
			u, v := float64(x)/float64(w), float64(y)/float64(h)
			// sky gradient and a checkered, wavy floor
			cr, cg, cb := 90+100*v, 130+80*v, 200-40*v
			if v > 0.6 {
				check := (int(u*24)+int(v*18))%2 == 0
				k := 0.5 + 0.5*math.Sin(40*u+23*v)
				cr, cg, cb = 60+80*k, 50+60*k, 40+30*k
				if check {
					cr, cg, cb = cr+70, cg+70, cb+70
				}
			}
			dx, dy := float64(x)-cx, float64(y)-cy
			if d := math.Hypot(dx, dy); d < r {
				nz := math.Sqrt(1 - (d/r)*(d/r))
				light := max(0, (-dx*0.4-dy*0.6)/r+nz*0.7)
				cr, cg, cb = 30+200*light, 40+120*light, 30+60*light
			}
			n := float64(hash32(x, y, 7)%13) - 6 // path-tracing noise, ±6
			i := img.PixOffset(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = clamp8(cr+n), clamp8(cg+n), clamp8(cb+n), 255
		}
	}
	return img
}

func clone(img *image.NRGBA) *image.NRGBA {
	out := image.NewNRGBA(img.Rect)
	copy(out.Pix, img.Pix)
	return out
}

// addAll adds delta to every colour channel of every pixel.
func addAll(img *image.NRGBA, delta int) *image.NRGBA {
	out := clone(img)
	for i := range out.Pix {
		if i%4 != 3 {
			out.Pix[i] = clamp8(float64(int(out.Pix[i]) + delta))
		}
	}
	return out
}

// fewPixelsOff moves n scattered pixels by up to delta: honest Cycles runs on
// other CPU kernels (≤ 17 of 76,800 pixels by ≤ 5/255).
func fewPixelsOff(img *image.NRGBA, n, delta int) *image.NRGBA {
	out := clone(img)
	for k := range n {
		x, y := int(hash32(k, 1, 3))%testW, int(hash32(k, 2, 3))%testH
		i := out.PixOffset(x, y)
		for c := range 3 {
			out.Pix[i+c] = clamp8(float64(int(out.Pix[i+c]) + delta))
		}
	}
	return out
}

// jitterNoise changes one channel in period by ±1 everywhere: POV-Ray's
// multi-threaded jitter (PSNR just under 60 dB).
func jitterNoise(img *image.NRGBA, period uint32) *image.NRGBA {
	out := clone(img)
	for i := range out.Pix {
		if i%4 == 3 {
			continue
		}
		h := hash32(i, 0, 11)
		if h%period == 0 {
			d := 1
			if h&(1<<20) != 0 {
				d = -1
			}
			out.Pix[i] = clamp8(float64(int(out.Pix[i]) + d))
		}
	}
	return out
}

// garbageBlock overwrites an 8×8 block with noise.
func garbageBlock(img *image.NRGBA, x0, y0 int) *image.NRGBA {
	out := clone(img)
	for y := y0; y < y0+8; y++ {
		for x := x0; x < x0+8; x++ {
			i := out.PixOffset(x, y)
			h := hash32(x, y, 99)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = uint8(h), uint8(h>>8), uint8(h>>16)
		}
	}
	return out
}

// halfResUpscaled renders frame f at half size and scales it up (nearest).
func halfResUpscaled(f int) *image.NRGBA {
	small := render(f, testW/2, testH/2)
	out := image.NewNRGBA(image.Rect(0, 0, testW, testH))
	for y := range testH {
		for x := range testW {
			copy(out.Pix[out.PixOffset(x, y):out.PixOffset(x, y)+4], small.Pix[small.PixOffset(x/2, y/2):])
		}
	}
	return out
}

func constant(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

func encodePNG(t testing.TB, img image.Image, level png.CompressionLevel) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: level}).Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// roundTrip encodes img as PNG and decodes it the way the coordinator does.
func roundTrip(t testing.TB, img image.Image) *image.NRGBA {
	t.Helper()
	out, err := Decode(encodePNG(t, img, png.DefaultCompression), img.Bounds().Size())
	if err != nil {
		t.Fatal(err)
	}
	return out
}
