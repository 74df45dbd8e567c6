// Package imaging holds the small image helpers the roles share: reading
// PNG files and scaling PNGs down to thumbnails for the web app.
//
// It imports only the standard library.
package imaging

import (
	"bytes"
	"image"
	"image/png"
	"os"
)

// Thumbnail sizes: the longer side of frame thumbnails in a job's grid, and
// of the volunteer's last render.
const (
	ThumbSize   = 160
	PreviewSize = 320
)

// LoadPNG decodes a PNG file.
func LoadPNG(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return png.Decode(f)
}

// Thumbnail scales a PNG down (box filter) so that its longer side is at
// most size pixels; smaller images are returned as they are.
func Thumbnail(data []byte, size int) ([]byte, error) {
	src, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	b := src.Bounds()
	if b.Dx() <= size && b.Dy() <= size {
		return data, nil
	}
	w, h := size, max(1, b.Dy()*size/b.Dx())
	if b.Dy() > b.Dx() {
		w, h = max(1, b.Dx()*size/b.Dy()), size
	}
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		y0, y1 := b.Min.Y+y*b.Dy()/h, b.Min.Y+max((y+1)*b.Dy()/h, y*b.Dy()/h+1)
		for x := range w {
			x0, x1 := b.Min.X+x*b.Dx()/w, b.Min.X+max((x+1)*b.Dx()/w, x*b.Dx()/w+1)
			var r, g, bl, a, n uint64
			for sy := y0; sy < y1; sy++ {
				for sx := x0; sx < x1; sx++ {
					cr, cg, cb, ca := src.At(sx, sy).RGBA()
					r, g, bl, a, n = r+uint64(cr), g+uint64(cg), bl+uint64(cb), a+uint64(ca), n+1
				}
			}
			i := dst.PixOffset(x, y)
			if a == 0 {
				continue
			}
			// Un-premultiply the averaged colour for NRGBA.
			dst.Pix[i+0] = uint8(r * 255 / a)
			dst.Pix[i+1] = uint8(g * 255 / a)
			dst.Pix[i+2] = uint8(bl * 255 / a)
			dst.Pix[i+3] = uint8(a / n >> 8)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, dst); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
