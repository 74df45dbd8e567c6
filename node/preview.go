package node

import (
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/png"
	"os"
)

// shrink scales img down by an integer factor with a box filter.
func shrink(img image.Image, factor int) *image.NRGBA {
	b := img.Bounds()
	w, h := max(b.Dx()/factor, 1), max(b.Dy()/factor, 1)
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			var r, g, bl, a, n uint32
			for dy := range factor {
				for dx := range factor {
					px, py := b.Min.X+x*factor+dx, b.Min.Y+y*factor+dy
					if px >= b.Max.X || py >= b.Max.Y {
						continue
					}
					c := color.NRGBAModel.Convert(img.At(px, py)).(color.NRGBA)
					r, g, bl, a, n = r+uint32(c.R), g+uint32(c.G), bl+uint32(c.B), a+uint32(c.A), n+1
				}
			}
			out.SetNRGBA(x, y, color.NRGBA{uint8(r / n), uint8(g / n), uint8(bl / n), uint8(a / n)})
		}
	}
	return out
}

// contactSheet lays frames out in a grid of cols columns, each shrunk by
// factor, on a dark background with a small gap.
func contactSheet(frames []image.Image, cols, factor int) *image.NRGBA {
	if len(frames) == 0 {
		return image.NewNRGBA(image.Rect(0, 0, 1, 1))
	}
	const gap = 4
	thumb := shrink(frames[0], factor).Bounds()
	rows := (len(frames) + cols - 1) / cols
	sheet := image.NewNRGBA(image.Rect(0, 0, cols*(thumb.Dx()+gap)+gap, rows*(thumb.Dy()+gap)+gap))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(color.NRGBA{24, 24, 28, 255}), image.Point{}, draw.Src)
	for i, f := range frames {
		x, y := gap+(i%cols)*(thumb.Dx()+gap), gap+(i/cols)*(thumb.Dy()+gap)
		t := shrink(f, factor)
		draw.Draw(sheet, t.Bounds().Add(image.Pt(x, y)), t, image.Point{}, draw.Src)
	}
	return sheet
}

// animatedGIF makes a looping animation at fps frames per second.
func animatedGIF(frames []image.Image, fps int) *gif.GIF {
	g := &gif.GIF{LoopCount: 0}
	delay := max(100/fps, 2)
	for _, f := range frames {
		p := image.NewPaletted(f.Bounds(), palette.Plan9)
		draw.FloydSteinberg.Draw(p, f.Bounds(), f, f.Bounds().Min)
		g.Image = append(g.Image, p)
		g.Delay = append(g.Delay, delay)
	}
	return g
}

func writePNG(path string, img image.Image) error {
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

func writeGIF(path string, g *gif.GIF) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := gif.EncodeAll(f, g); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
