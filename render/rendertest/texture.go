package rendertest

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
)

// WriteChecker writes a 16x16 PNG of 4x4-pixel cells in colours a and b, a
// texture whose presence a test can count in rendered frames. Missing
// directories are created.
func WriteChecker(path string, a, b color.NRGBA) error {
	img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	for y := range 16 {
		for x := range 16 {
			c := a
			if (x/4+y/4)%2 == 1 {
				c = b
			}
			img.SetNRGBA(x, y, c)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
