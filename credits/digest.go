package credits

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/renderswarm/renderswarm/job"
)

// Sanity and commitment errors. Each is a decision about one result.
var (
	ErrUndecodable = errors.New("result is not a decodable PNG")
	ErrWrongSize   = errors.New("result has the wrong size")
	ErrConstant    = errors.New("result is a constant image")
	ErrCommitment  = errors.New("result does not match its commitment")
)

// Decode decodes a PNG result that must be exactly want pixels. It reads
// the header first, so a file claiming another size is refused before any
// pixel is decompressed. The error wraps ErrWrongSize or ErrUndecodable.
func Decode(pngBytes []byte, want image.Point) (*image.NRGBA, error) {
	if want.X <= 0 || want.Y <= 0 || want.X > job.MaxSide || want.Y > job.MaxSide {
		return nil, fmt.Errorf("%w: expected size %dx%d is outside 1..%d", ErrWrongSize, want.X, want.Y, job.MaxSide)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(pngBytes))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUndecodable, err)
	}
	if cfg.Width != want.X || cfg.Height != want.Y {
		return nil, fmt.Errorf("%w: %dx%d, want %dx%d", ErrWrongSize, cfg.Width, cfg.Height, want.X, want.Y)
	}
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUndecodable, err)
	}
	return NRGBA(img), nil
}

// NRGBA returns img as an 8-bit non-premultiplied image with its top-left
// corner at (0, 0): img itself when it already is one, otherwise a copy with
// every pixel converted by color.NRGBAModel.
func NRGBA(img image.Image) *image.NRGBA {
	b := img.Bounds()
	if n, ok := img.(*image.NRGBA); ok && b.Min == (image.Point{}) {
		return n
	}
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	if n, ok := img.(*image.NRGBA); ok {
		for y := range b.Dy() {
			copy(out.Pix[y*out.Stride:y*out.Stride+4*b.Dx()], n.Pix[n.PixOffset(b.Min.X, b.Min.Y+y):])
		}
		return out
	}
	if r, ok := img.(*image.RGBA); ok {
		// PNG's 8-bit RGB decodes to opaque RGBA: copy without the interface
		// call per pixel, converting only pixels that are not opaque.
		for y := range b.Dy() {
			src := r.Pix[r.PixOffset(b.Min.X, b.Min.Y+y):][:4*b.Dx()]
			dst := out.Pix[y*out.Stride:][:4*b.Dx()]
			for i := 0; i < len(src); i += 4 {
				if src[i+3] == 255 {
					copy(dst[i:i+4], src[i:i+4])
					continue
				}
				c := color.NRGBAModel.Convert(color.RGBA{src[i], src[i+1], src[i+2], src[i+3]}).(color.NRGBA)
				dst[i], dst[i+1], dst[i+2], dst[i+3] = c.R, c.G, c.B, c.A
			}
		}
		return out
	}
	for y := range b.Dy() {
		for x := range b.Dx() {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			i := out.PixOffset(x, y)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = c.R, c.G, c.B, c.A
		}
	}
	return out
}

// Sanity checks a decoded result: exactly want pixels and not constant. The
// error wraps ErrWrongSize or ErrConstant; see the package documentation for
// what to do with a constant result.
func Sanity(img image.Image, want image.Point) error {
	if got := img.Bounds().Size(); got != want {
		return fmt.Errorf("%w: %dx%d, want %dx%d", ErrWrongSize, got.X, got.Y, want.X, want.Y)
	}
	if want.X <= 0 || want.Y <= 0 {
		return fmt.Errorf("%w: empty", ErrWrongSize)
	}
	n := NRGBA(img)
	first := [4]byte(n.Pix[0:4])
	for y := range want.Y {
		row := n.Pix[y*n.Stride : y*n.Stride+4*want.X]
		for i := 0; i < len(row); i += 4 {
			if [4]byte(row[i:i+4]) != first {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: every pixel is rgba(%d,%d,%d,%d)", ErrConstant, first[0], first[1], first[2], first[3])
}

// Digest returns the pixel digest of img (see the package documentation).
func Digest(img image.Image) job.PixelDigest {
	n := NRGBA(img)
	w, h := n.Rect.Dx(), n.Rect.Dy()
	hash := sha256.New()
	var size [8]byte
	binary.BigEndian.PutUint32(size[0:4], uint32(w))
	binary.BigEndian.PutUint32(size[4:8], uint32(h))
	hash.Write(size[:])
	for y := range h {
		hash.Write(n.Pix[y*n.Stride : y*n.Stride+4*w])
	}
	var d job.PixelDigest
	hash.Sum(d[:0])
	return d
}

// CheckCommitment checks that c commits to digest d under salt; the error
// wraps ErrCommitment. A volunteer whose revealed result fails this cheated
// or is broken: its result is worthless whatever the pixels say.
func CheckCommitment(c job.Commitment, salt job.Salt, d job.PixelDigest) error {
	if !c.Opens(salt, d) {
		return fmt.Errorf("%w: commitment %s, digest %s", ErrCommitment, c, d)
	}
	return nil
}
