package render

import (
	"context"
	"errors"
	"fmt"
	"image"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors a caller branches on; backends wrap them with context.
var (
	// ErrSceneInvalid: the scene file or one of its dependencies is missing,
	// unreadable or malformed. Rendering it again will fail again.
	ErrSceneInvalid = errors.New("invalid scene")
	// ErrTaskInvalid: a task setting is out of range (size, samples, border).
	ErrTaskInvalid = errors.New("invalid render task")
	// ErrUnsupported: the backend cannot honour a task option, e.g. a border
	// region when Capabilities.Border is false.
	ErrUnsupported = errors.New("unsupported by renderer")
	// ErrUnavailable: the backend's program is not installed or does not run.
	ErrUnavailable = errors.New("renderer unavailable")
)

// ImageRenderer is a Backend that can also render a task into memory,
// with the same pixels Render would write (OutputDir unused; no extras): a
// publisher checks a crop of almost every result with it, and writing,
// reading and removing a file and a directory each time cost more than
// rendering a small crop.
type ImageRenderer interface {
	RenderImage(ctx context.Context, t Task) (image.Image, error)
}

// Backend renders frames of scenes of one renderer family. Implementations
// are safe for concurrent use.
type Backend interface {
	// Probe reports the backend's name, exact version and capabilities, or
	// an error wrapping ErrUnavailable.
	Probe(ctx context.Context) (Info, error)
	// Inspect reads the scene at scenePath (its main file) and reports its
	// defaults and the files it depends on, or an error wrapping
	// ErrSceneInvalid.
	Inspect(ctx context.Context, scenePath string) (SceneInfo, error)
	// Render renders one frame (or a border region of it) into
	// t.OutputDir and nowhere else. progress, if not nil, is called with
	// non-decreasing fractions, never concurrently, and last with 1 on
	// success. On cancellation Render returns an error wrapping ctx.Err()
	// promptly and leaves no output file. Errors wrap ErrTaskInvalid for a
	// task failing Validate (or a limit of the backend), ErrSceneInvalid for
	// a missing or malformed scene or dependency, ErrUnsupported for an
	// option the backend lacks.
	Render(ctx context.Context, t Task, progress func(Progress)) (Result, error)
}

// RootInspector is a Backend whose scenes may use files anywhere under a
// project root, not only beside the main file: a studio's shots/shot.blend
// linking lib/props.blend, whose textures sit beside the library.
// InspectRoot is Inspect with root in place of the main file's directory:
// it accepts dependencies anywhere inside root (symlinks resolved),
// refuses those outside it in one line naming the file, and reports
// SceneInfo.Files relative to root. root must contain scenePath.
type RootInspector interface {
	InspectRoot(ctx context.Context, scenePath, root string) (SceneInfo, error)
}

// Info describes a backend as installed on this machine.
type Info struct {
	Name         string // registry name, e.g. "builtin", "blender"
	Version      string // exact version; output may differ between versions
	Capabilities Capabilities
}

// Capabilities are the optional features a backend supports.
type Capabilities struct {
	// Border: Task.Border is honoured, and border tiles stitch into the full
	// frame pixel for pixel.
	Border bool
	// Animation: the scene format has frames and renders differ per frame.
	Animation bool
	// Deterministic: the same task gives the same decoded pixels on every
	// run, thread count and machine (exact verification is possible).
	Deterministic bool
}

// SceneInfo is what Inspect learns from a scene: the defaults a publisher
// starts from and the files to pack with it.
type SceneInfo struct {
	FrameStart, FrameEnd int // default frame range, inclusive
	Width, Height        int // default resolution in pixels
	Samples              int // default samples per pixel (0 if not meaningful)
	// Files the scene needs besides its main file, as slash-separated paths
	// relative to the main file's directory, sorted, without repeats.
	Files []string
}

// Rect is a pixel rectangle of a frame: origin top-left, y down, half-open.
type Rect struct {
	X0, Y0, X1, Y1 int
}

// Dx is the rectangle's width.
func (r Rect) Dx() int { return r.X1 - r.X0 }

// Dy is the rectangle's height.
func (r Rect) Dy() int { return r.Y1 - r.Y0 }

// Image returns r as an image.Rectangle.
func (r Rect) Image() image.Rectangle { return image.Rect(r.X0, r.Y0, r.X1, r.Y1) }

// Task is one unit of rendering work.
type Task struct {
	SceneDir  string // root of the scene's files; read-only
	SceneFile string // main file, slash-separated, relative to SceneDir
	Frame     int
	Width     int // full-frame resolution in pixels
	Height    int
	Samples   int    // samples per pixel; 0 means the scene's default
	Seed      uint64 // sampling seed; part of what makes output reproducible
	// Border, if not nil, restricts rendering to this region of the full
	// frame; the output PNG then has the region's size.
	Border    *Rect
	OutputDir string // the only directory the backend may write to
	Threads   int    // worker threads; 0 means all CPUs
	// Extras are files to write besides the PNG, by extension ("exr":
	// an OpenEXR of the same frame, half float, RGBA), for whole frames
	// only (a border render writes none). A backend that cannot write
	// one fails with ErrUnsupported.
	Extras []string
	// MemoryLimit caps the address space of every process the render
	// runs, in bytes; 0 means DefaultMemoryLimit. A render that needs
	// more fails.
	MemoryLimit int64
	// OutputLimit caps what the render writes, in bytes: all files in its
	// scratch space together, and any one file; 0 means the default for
	// the frame's size (OutputLimitOf). A render that writes more fails.
	OutputLimit int64
}

// Limits every backend enforces on a task, so a stranger's manifest cannot
// ask for absurd work.
const (
	MaxSide    = 16384
	MaxSamples = 1 << 16
	MaxThreads = 1024
)

// Validate checks the settings every backend shares; errors wrap
// ErrTaskInvalid.
func (t Task) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrTaskInvalid, fmt.Sprintf(format, args...))
	}
	switch {
	case t.SceneFile == "":
		return bad("no scene file")
	case t.OutputDir == "":
		return bad("no output directory")
	case t.Width < 1 || t.Height < 1 || t.Width > MaxSide || t.Height > MaxSide:
		return bad("resolution %dx%d outside 1..%d per side", t.Width, t.Height, MaxSide)
	case t.Samples < 0 || t.Samples > MaxSamples:
		return bad("samples %d outside 0..%d", t.Samples, MaxSamples)
	case t.Threads < 0 || t.Threads > MaxThreads:
		return bad("threads %d outside 0..%d", t.Threads, MaxThreads)
	case t.Frame < 0:
		return bad("negative frame %d", t.Frame)
	case t.MemoryLimit < 0 || t.OutputLimit < 0:
		return bad("negative limit (memory %d, output %d)", t.MemoryLimit, t.OutputLimit)
	}
	if b := t.Border; b != nil {
		if b.X0 < 0 || b.Y0 < 0 || b.X1 > t.Width || b.Y1 > t.Height || b.Dx() < 1 || b.Dy() < 1 {
			return bad("border %d,%d-%d,%d not a non-empty part of %dx%d",
				b.X0, b.Y0, b.X1, b.Y1, t.Width, t.Height)
		}
	}
	return nil
}

// CheckExtras reports, wrapping ErrUnsupported, an extra output of t the
// backend cannot write (supported lists the ones it can). Border renders
// write no extras, so they pass.
func (t Task) CheckExtras(supported ...string) error {
	if t.Border != nil {
		return nil
	}
	for _, e := range t.Extras {
		if !slices.Contains(supported, e) {
			return fmt.Errorf("%w: extra output %q", ErrUnsupported, e)
		}
	}
	return nil
}

// Region is the part of the frame the task renders: the border if set,
// else the whole frame.
func (t Task) Region() Rect {
	if t.Border != nil {
		return *t.Border
	}
	return Rect{0, 0, t.Width, t.Height}
}

// Progress is a backend's report of how far a render got.
type Progress struct {
	Fraction float64 // 0..1, non-decreasing within one Render call
	Message  string  // short human-readable state, may be empty
}

// Result is what a successful Render produced.
type Result struct {
	Path string // the output PNG, inside Task.OutputDir
	// Extras maps each of Task.Extras to its file inside Task.OutputDir.
	Extras        map[string]string
	Width, Height int // its size: the task's region
	// CPU is the processor time the render took, every thread of it
	// summed (a renderer that uses one core of four for 10 s took 10 s):
	// what a volunteer's claim is made of. Backends that run a program
	// read it from the operating system, including the program's children.
	CPU time.Duration
}

// ParseResolution parses "WIDTHxHEIGHT", e.g. "320x180", with both sides in
// 1..MaxSide.
func ParseResolution(s string) (w, h int, err error) {
	a, b, ok := strings.Cut(s, "x")
	w, err1 := strconv.Atoi(a)
	h, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("want WIDTHxHEIGHT such as 320x180, got %q", s)
	}
	if w < 1 || h < 1 || w > MaxSide || h > MaxSide {
		return 0, 0, fmt.Errorf("%dx%d outside 1..%d per side", w, h, MaxSide)
	}
	return w, h, nil
}
