package job

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Limits on frame specs. They keep a spec from a stranger cheap to expand and
// store: MaxFrames bounds the work (and memory) of one job, MaxFrameNumber the
// width of a frame number, MaxFrameSpecLen the text a peer can make us parse.
const (
	// MaxFrames is the largest number of frames one spec may name, counting
	// every range in full before duplicates are removed.
	MaxFrames = 100_000
	// MaxFrameNumber is the largest frame number (frames are 0..MaxFrameNumber).
	MaxFrameNumber = 10_000_000
	// MaxFrameSpecLen is the longest spec text accepted, in bytes.
	MaxFrameSpecLen = 4096
)

// ErrBadFrameSpec is wrapped by every error ParseFrameSpec returns.
var ErrBadFrameSpec = errors.New("bad frame spec")

// FrameSpec is a set of frame numbers, parsed from the CLI grammar
//
//	spec  = item { "," item }
//	item  = frame | frame "-" frame [ "x" step ]
//	frame = digits (0..MaxFrameNumber)    step = digits (1..MaxFrameNumber)
//
// for example "1-250", "1-250x5" (1, 6, 11, … 246) or "1,5,9-12". Spaces around
// items are ignored. A range must not run backwards. Repeated frames are
// allowed and counted once.
//
// The zero FrameSpec is empty; ParseFrameSpec never returns an empty spec.
type FrameSpec struct {
	frames []int // sorted, unique
}

// ParseFrameSpec parses s; see FrameSpec for the grammar and limits.
func ParseFrameSpec(s string) (FrameSpec, error) {
	if len(s) > MaxFrameSpecLen {
		return FrameSpec{}, fmt.Errorf("%w: longer than %d bytes", ErrBadFrameSpec, MaxFrameSpecLen)
	}
	if strings.TrimSpace(s) == "" {
		return FrameSpec{}, fmt.Errorf("%w: empty (want e.g. 1-250, 1-250x5 or 1,5,9-12)", ErrBadFrameSpec)
	}
	var frames []int
	total := 0
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		first, last, step, err := parseFrameItem(item)
		if err != nil {
			return FrameSpec{}, fmt.Errorf("%w %q: %v", ErrBadFrameSpec, s, err)
		}
		total += (last-first)/step + 1
		if total > MaxFrames {
			return FrameSpec{}, fmt.Errorf("%w %q: more than %d frames", ErrBadFrameSpec, s, MaxFrames)
		}
		for f := first; f <= last; f += step {
			frames = append(frames, f)
		}
	}
	slices.Sort(frames)
	return FrameSpec{frames: slices.Compact(frames)}, nil
}

// parseFrameItem parses one comma-separated item into an inclusive range.
func parseFrameItem(item string) (first, last, step int, err error) {
	if item == "" {
		return 0, 0, 0, errors.New("empty item between commas")
	}
	rng, stepText, hasStep := strings.Cut(item, "x")
	lo, hi, isRange := strings.Cut(rng, "-")
	if hasStep && !isRange {
		return 0, 0, 0, fmt.Errorf("step in %q needs a range (e.g. 1-250x5)", item)
	}
	if first, err = parseFrameNumber(lo, "frame"); err != nil {
		return 0, 0, 0, err
	}
	if !isRange {
		return first, first, 1, nil
	}
	if last, err = parseFrameNumber(hi, "range end"); err != nil {
		return 0, 0, 0, err
	}
	if last < first {
		return 0, 0, 0, fmt.Errorf("range %d-%d runs backwards", first, last)
	}
	step = 1
	if hasStep {
		if step, err = parseFrameNumber(stepText, "step"); err != nil {
			return 0, 0, 0, err
		}
		if step == 0 {
			return 0, 0, 0, errors.New("step must be at least 1")
		}
	}
	return first, last, step, nil
}

// parseFrameNumber parses plain decimal digits (no sign) up to MaxFrameNumber.
func parseFrameNumber(s, what string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("missing %s", what)
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%s %q is not a non-negative whole number", what, s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > MaxFrameNumber {
		return 0, fmt.Errorf("%s %s is larger than %d", what, s, MaxFrameNumber)
	}
	return n, nil
}

// Frames returns the frame numbers in ascending order, without repeats. The
// caller may modify the returned slice.
func (fs FrameSpec) Frames() []int { return slices.Clone(fs.frames) }

// Len returns the number of distinct frames.
func (fs FrameSpec) Len() int { return len(fs.frames) }

// Contains reports whether frame f is in the spec.
func (fs FrameSpec) Contains(f int) bool {
	_, ok := slices.BinarySearch(fs.frames, f)
	return ok
}

// Equal reports whether both specs name the same frames.
func (fs FrameSpec) Equal(o FrameSpec) bool { return slices.Equal(fs.frames, o.frames) }

// String returns the normalized spec: ascending items, no spaces, no repeats,
// runs of consecutive frames as "a-b", other arithmetic runs of three or more
// as "a-bxk" (b is the last frame actually named) and the rest as single
// frames; consecutive runs win over stepped ones. Two specs naming the same
// frames have the same String, and it parses back to the same frames. The
// empty spec is "".
func (fs FrameSpec) String() string {
	f := fs.frames
	startsRun := func(k int) bool { return k+1 < len(f) && f[k+1] == f[k]+1 }
	var b strings.Builder
	for i := 0; i < len(f); {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		j := i
		switch {
		case startsRun(i):
			for startsRun(j) {
				j++
			}
			fmt.Fprintf(&b, "%d-%d", f[i], f[j])
		case i+1 < len(f):
			d := f[i+1] - f[i]
			for j+1 < len(f) && f[j+1]-f[j] == d && !startsRun(j+1) {
				j++
			}
			if j-i+1 >= 3 {
				fmt.Fprintf(&b, "%d-%dx%d", f[i], f[j], d)
				break
			}
			j = i
			b.WriteString(strconv.Itoa(f[i]))
		default:
			b.WriteString(strconv.Itoa(f[i]))
		}
		i = j + 1
	}
	return b.String()
}

// MarshalText encodes the normalized spec; it lets a FrameSpec sit in JSON as
// a string.
func (fs FrameSpec) MarshalText() ([]byte, error) {
	if len(fs.frames) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadFrameSpec)
	}
	return []byte(fs.String()), nil
}

// UnmarshalText parses text with ParseFrameSpec.
func (fs *FrameSpec) UnmarshalText(text []byte) error {
	p, err := ParseFrameSpec(string(text))
	if err != nil {
		return err
	}
	*fs = p
	return nil
}
