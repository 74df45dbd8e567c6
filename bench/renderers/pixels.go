//go:build linux

package main

import (
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
)

// decode reads a PNG as NRGBA pixels (PNG bytes differ in metadata between
// renderers' writers; only pixels are compared).
func decode(path string) (*image.NRGBA, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Bounds(), img, b.Min, draw.Src)
	return out, nil
}

// same compares two PNGs' decoded pixels: "identical", or how many pixels
// differ and by how much at most (any channel, out of 255).
func same(a, b string) string {
	x, err := decode(a)
	if err != nil {
		return "error: " + err.Error()
	}
	y, err := decode(b)
	if err != nil {
		return "error: " + err.Error()
	}
	if x.Bounds() != y.Bounds() {
		return fmt.Sprintf("sizes differ (%v vs %v)", x.Bounds().Size(), y.Bounds().Size())
	}
	n, worst := 0, 0
	for i := 0; i < len(x.Pix); i += 4 {
		d := 0
		for c := range 4 {
			d = max(d, absInt(int(x.Pix[i+c])-int(y.Pix[i+c])))
		}
		if d > 0 {
			n++
			worst = max(worst, d)
		}
	}
	if n == 0 {
		return "identical"
	}
	return fmt.Sprintf("%d of %d pixels differ, by at most %d/255", n, len(x.Pix)/4, worst)
}

// sameFrames compares frame_NNNN.png 1..n in two directories and sums up.
func sameFrames(dirA, dirB string, n int) string {
	ok := 0
	first := ""
	for f := 1; f <= n; f++ {
		name := fmt.Sprintf("frame_%04d.png", f)
		r := same(filepath.Join(dirA, name), filepath.Join(dirB, name))
		if r == "identical" {
			ok++
		} else if first == "" {
			first = fmt.Sprintf("; frame %d: %s", f, r)
		}
	}
	return fmt.Sprintf("%d/%d frames pixel-identical%s", ok, n, first)
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
