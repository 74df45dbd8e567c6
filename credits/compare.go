package credits

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"math"

	"github.com/renderswarm/renderswarm/job"
)

// MaxPSNR caps PSNR values, so identical colours give a finite number that
// JSON and databases can hold.
const MaxPSNR = 100.0

// tileSide is the side of the windows of WorstTilePSNR.
const tileSide = 32

// ErrMismatch is wrapped by Comparison.Err when two results disagree.
var ErrMismatch = errors.New("results do not match")

// ErrUnknownProfile is returned for a verification profile name this
// package does not know.
var ErrUnknownProfile = errors.New("unknown verification profile")

// Profile is a tolerant-comparison rule (DESIGN.md §5). Honest renders of one
// task under the profile's renderer settings differ by less than these
// bounds; the cheats measured there do not.
type Profile struct {
	Name  string // one of job's Profile constants
	Exact bool   // only identical pixels match; the bounds below are unused

	MaxOff8Fraction  float64 // Off8 ≤ MaxOff8Fraction·N
	MaxOff32Fraction float64 // Off32 ≤ max(1, MaxOff32Fraction·N)
	MinPSNR          float64 // dB
	MinTilePSNR      float64 // dB, worst 32×32 window
	MaxLumaBias      float64 // |LumaBias|, 8-bit units
}

// Profiles are the rules of DESIGN.md §5's table, by job profile name. They
// were calibrated on 45 honest and cheating pairs; recalibrate from metrics
// of tolerant matches later confirmed by a majority vote.
var profiles = map[string]Profile{
	job.ProfileExact: {Name: job.ProfileExact, Exact: true},
	job.ProfileCyclesCPU: {Name: job.ProfileCyclesCPU,
		MaxOff8Fraction: 0.0002, MaxOff32Fraction: 1e-5, MinPSNR: 60, MinTilePSNR: 50, MaxLumaBias: 0.25},
	job.ProfilePOVRay: {Name: job.ProfilePOVRay,
		MaxOff8Fraction: 0.0001, MaxOff32Fraction: 1e-5, MinPSNR: 70, MinTilePSNR: 55, MaxLumaBias: 0.25},
	job.ProfilePOVRayNoisy: {Name: job.ProfilePOVRayNoisy,
		MaxOff8Fraction: 0.0002, MaxOff32Fraction: 1e-5, MinPSNR: 55, MinTilePSNR: 42, MaxLumaBias: 0.25},
}

// ProfileFor returns the profile a manifest names (Manifest.Profile).
func ProfileFor(name string) (Profile, error) {
	p, ok := profiles[name]
	if !ok {
		return Profile{}, fmt.Errorf("%w %q", ErrUnknownProfile, name)
	}
	return p, nil
}

// Metrics measure how far apart two images of the same size are; see the
// package documentation for the exact definitions.
type Metrics struct {
	Pixels        int     `json:"pixels"`
	Off8          int     `json:"off8"`
	Off32         int     `json:"off32"`
	PSNR          float64 `json:"psnr"`
	WorstTilePSNR float64 `json:"worst_tile_psnr"`
	LumaBias      float64 `json:"luma_bias"`
}

// Comparison is the verdict on two results of one task.
type Comparison struct {
	Profile string  `json:"profile"`
	Match   bool    `json:"match"`
	Exact   bool    `json:"exact"`            // identical pixels
	Reason  string  `json:"reason,omitempty"` // the first bound broken, when not Match
	Metrics Metrics `json:"metrics"`
}

// Err returns nil for a match and otherwise an error wrapping ErrMismatch
// that says which bound was broken.
func (c Comparison) Err() error {
	if c.Match {
		return nil
	}
	return fmt.Errorf("%w under profile %s: %s", ErrMismatch, c.Profile, c.Reason)
}

// Compare decides whether a and b are the same result under p. They must
// have the same size (their origins may differ, so a crop can be compared
// with the same region of a full frame); otherwise the error wraps
// ErrWrongSize.
func Compare(p Profile, a, b image.Image) (Comparison, error) {
	if sa, sb := a.Bounds().Size(), b.Bounds().Size(); sa != sb {
		return Comparison{}, fmt.Errorf("%w: comparing %dx%d with %dx%d", ErrWrongSize, sa.X, sa.Y, sb.X, sb.Y)
	}
	na, nb := NRGBA(a), NRGBA(b)
	c := Comparison{Profile: p.Name}
	if samePixels(na, nb) {
		c.Match, c.Exact = true, true
		c.Metrics = Metrics{Pixels: na.Rect.Dx() * na.Rect.Dy(), PSNR: MaxPSNR, WorstTilePSNR: MaxPSNR}
		return c, nil
	}
	c.Metrics = measure(na, nb)
	c.Reason = p.broken(c.Metrics)
	c.Match = c.Reason == ""
	return c, nil
}

// broken returns the first bound m breaks under p, or "".
func (p Profile) broken(m Metrics) string {
	n := float64(m.Pixels)
	switch {
	case p.Exact:
		return "pixels differ and the profile is exact"
	case float64(m.Off8) > p.MaxOff8Fraction*n:
		return fmt.Sprintf("%d pixels off by more than 8/255 (allowed %.1f)", m.Off8, p.MaxOff8Fraction*n)
	case float64(m.Off32) > max(1, p.MaxOff32Fraction*n):
		return fmt.Sprintf("%d pixels off by more than 32/255 (allowed %.1f)", m.Off32, max(1, p.MaxOff32Fraction*n))
	case m.PSNR < p.MinPSNR:
		return fmt.Sprintf("PSNR %.1f dB below %.0f dB", m.PSNR, p.MinPSNR)
	case m.WorstTilePSNR < p.MinTilePSNR:
		return fmt.Sprintf("worst tile PSNR %.1f dB below %.0f dB", m.WorstTilePSNR, p.MinTilePSNR)
	case math.Abs(m.LumaBias) > p.MaxLumaBias:
		return fmt.Sprintf("mean luma bias %.3f beyond ±%.2f", m.LumaBias, p.MaxLumaBias)
	}
	return ""
}

func samePixels(a, b *image.NRGBA) bool {
	w, h := a.Rect.Dx(), a.Rect.Dy()
	for y := range h {
		if !bytes.Equal(a.Pix[y*a.Stride:y*a.Stride+4*w], b.Pix[y*b.Stride:y*b.Stride+4*w]) {
			return false
		}
	}
	return true
}

// measure computes the metrics of two images of the same size, both with
// their origin at (0, 0) (as NRGBA returns them).
func measure(a, b *image.NRGBA) Metrics {
	w, h := a.Rect.Dx(), a.Rect.Dy()
	m := Metrics{Pixels: w * h}
	var sq, luma int64
	for y := range h {
		ra := a.Pix[y*a.Stride : y*a.Stride+4*w]
		rb := b.Pix[y*b.Stride : y*b.Stride+4*w]
		for i := 0; i < len(ra); i += 4 {
			dr := int64(ra[i]) - int64(rb[i])
			dg := int64(ra[i+1]) - int64(rb[i+1])
			db := int64(ra[i+2]) - int64(rb[i+2])
			da := int64(ra[i+3]) - int64(rb[i+3])
			worst := max(abs(dr), abs(dg), abs(db), abs(da))
			if worst > 8 {
				m.Off8++
			}
			if worst > 32 {
				m.Off32++
			}
			sq += dr*dr + dg*dg + db*db
			luma += 2126*dr + 7152*dg + 722*db
		}
	}
	m.PSNR = psnr(sq, 3*int64(m.Pixels))
	m.LumaBias = float64(luma) / 10000 / float64(m.Pixels)
	m.WorstTilePSNR = worstTilePSNR(a, b)
	return m
}

// worstTilePSNR returns the least PSNR over full-size windows; see the
// package documentation for their layout.
func worstTilePSNR(a, b *image.NRGBA) float64 {
	w, h := a.Rect.Dx(), a.Rect.Dy()
	tw, th := min(tileSide, w), min(tileSide, h)
	worst := MaxPSNR
	for _, y0 := range windowStarts(h, th) {
		for _, x0 := range windowStarts(w, tw) {
			var sq int64
			for y := y0; y < y0+th; y++ {
				ra := a.Pix[y*a.Stride+4*x0 : y*a.Stride+4*(x0+tw)]
				rb := b.Pix[y*b.Stride+4*x0 : y*b.Stride+4*(x0+tw)]
				for i := 0; i < len(ra); i += 4 {
					dr := int64(ra[i]) - int64(rb[i])
					dg := int64(ra[i+1]) - int64(rb[i+1])
					db := int64(ra[i+2]) - int64(rb[i+2])
					sq += dr*dr + dg*dg + db*db
				}
			}
			worst = min(worst, psnr(sq, 3*int64(tw*th)))
		}
	}
	return worst
}

// windowStarts lays windows of size side on a grid over n, the last one
// moved in to end at n.
func windowStarts(n, side int) []int {
	var starts []int
	for s := 0; s+side <= n; s += side {
		starts = append(starts, s)
	}
	if last := n - side; len(starts) == 0 || starts[len(starts)-1] != last {
		starts = append(starts, last)
	}
	return starts
}

// psnr returns the PSNR of a sum of squared 8-bit errors over count samples.
func psnr(sq, count int64) float64 {
	if sq == 0 || count == 0 {
		return MaxPSNR
	}
	mse := float64(sq) / float64(count)
	return min(MaxPSNR, 10*math.Log10(255*255/mse))
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
