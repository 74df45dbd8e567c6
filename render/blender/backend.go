package blender

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/renderswarm/renderswarm/render"
)

// Name is the backend's registry name.
const Name = "blender"

// MaxFrame is the highest frame number Blender accepts (MAXFRAME).
const MaxFrame = 1048574

// Backend renders .blend scenes with an installed Blender. The zero value
// runs "blender" from PATH, sandboxed with bubblewrap when that works.
type Backend struct {
	// Program is the Blender executable; "" means "blender" from PATH.
	Program string
	// NoSandbox disables bubblewrap even where it works.
	NoSandbox bool
	// NoChunks starts a new Blender for every task instead of rendering
	// further tasks of a scene in the one that rendered the last (see
	// serve.go).
	NoChunks bool
	// Logger receives the one-time notice when renders cannot be
	// sandboxed; nil means slog.Default().
	Logger *slog.Logger

	once    sync.Once
	bwrap   string // bubblewrap's path, "" when renders run unsandboxed
	whyNot  string // why there is no sandbox
	program string // resolved Program
	progErr error
	servers pool // Blenders kept with a scene loaded, for its next task
}

var _ render.Backend = (*Backend)(nil)

// New returns a Blender backend using "blender" from PATH.
func New() *Backend { return &Backend{} }

// setup resolves the program and decides on the sandbox, once.
func (b *Backend) setup() {
	b.once.Do(func() {
		prog := b.Program
		if prog == "" {
			prog = "blender"
		}
		p, err := exec.LookPath(prog)
		if err != nil {
			b.progErr = fmt.Errorf("%w: blender: %v", render.ErrUnavailable, err)
			return
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		b.program = p
		b.bwrap, b.whyNot = findSandbox(p, b.NoSandbox)
		if b.bwrap == "" && !b.NoSandbox {
			b.logger().Warn("sandboxUnavailable", "renderer", Name, "reason", b.whyNot)
		}
	})
}

func (b *Backend) logger() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.Default()
}

// Sandboxed reports whether renders run under bubblewrap, and if not, why.
func (b *Backend) Sandboxed() (bool, string) {
	b.setup()
	if b.progErr != nil {
		return false, b.progErr.Error()
	}
	return b.bwrap != "", b.whyNot
}

var versionRE = regexp.MustCompile(`(?m)^Blender (\d+\.\d+(?:\.\d+)?)`)

// Probe runs "blender --version" and reports the exact version.
func (b *Backend) Probe(ctx context.Context) (render.Info, error) {
	b.setup()
	if b.progErr != nil {
		return render.Info{}, b.progErr
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.program, "--version")
	cmd.Env = minimalEnv(os.TempDir())
	out, err := cmd.Output()
	if err != nil {
		return render.Info{}, fmt.Errorf("%w: %s --version: %v", render.ErrUnavailable, b.program, err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return render.Info{}, fmt.Errorf("%w: %s --version printed no version", render.ErrUnavailable, b.program)
	}
	return render.Info{Name: Name, Version: string(m[1]), Capabilities: render.Capabilities{
		Border: true, Animation: true, Deterministic: true,
	}}, nil
}

// Render renders one frame of t with Cycles or Eevee on the CPU, pinning
// seed, samples, dither 0, denoising off and fixed threads (see the package
// documentation). The output is an 8-bit RGBA PNG named frame_NNNN.png, or
// frame_NNNN_X0_Y0_X1_Y1.png for a border region, in t.OutputDir.
func (b *Backend) Render(ctx context.Context, t render.Task, progress func(render.Progress)) (render.Result, error) {
	if err := t.Validate(); err != nil {
		return render.Result{}, err
	}
	if err := t.CheckExtras("exr"); err != nil {
		return render.Result{}, err
	}
	if t.Frame > MaxFrame {
		return render.Result{}, fmt.Errorf("%w: frame %d above Blender's maximum %d", render.ErrTaskInvalid, t.Frame, MaxFrame)
	}
	if !filepath.IsLocal(filepath.FromSlash(t.SceneFile)) {
		return render.Result{}, fmt.Errorf("%w: scene file %q is not inside the scene directory", render.ErrTaskInvalid, t.SceneFile)
	}
	if err := ctx.Err(); err != nil {
		return render.Result{}, err
	}
	b.setup()
	if b.progErr != nil {
		return render.Result{}, b.progErr
	}
	if progress == nil {
		progress = func(render.Progress) {}
	}
	sceneDir, err := filepath.Abs(t.SceneDir)
	if err != nil {
		return render.Result{}, fmt.Errorf("%w: %s: %v", render.ErrSceneInvalid, t.SceneDir, err)
	}
	blend := filepath.Join(sceneDir, filepath.FromSlash(t.SceneFile))
	if err := checkBlend(blend, t.SceneFile); err != nil {
		return render.Result{}, err
	}
	outDir, err := filepath.Abs(t.OutputDir)
	if err != nil {
		return render.Result{}, err
	}
	work, err := os.MkdirTemp(outDir, ".blender-")
	if err != nil {
		return render.Result{}, fmt.Errorf("render output: %w", err)
	}
	defer func() {
		os.RemoveAll(work)
		if ctx.Err() != nil {
			// In the sandbox Blender dies just after bwrap (parent-death
			// signal); catch a write that raced the first removal.
			time.Sleep(50 * time.Millisecond)
			os.RemoveAll(work)
		}
	}()

	threads := t.Threads
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	params := map[string]any{
		"blend": blend, "scene_dir": sceneDir, "out": filepath.Join(work, "frame"),
		"width": t.Width, "height": t.Height, "samples": t.Samples,
		"seed": t.Seed % (1 << 31), "threads": threads, "frame": t.Frame,
	}
	if t.Border != nil {
		params["border"] = borderFractions(*t.Border, t.Width, t.Height)
	} else if len(t.Extras) > 0 {
		params["extras"] = t.Extras
	}
	mk := newMarkers()

	progress(render.Progress{Message: "starting Blender"})
	var p progressParser
	done := false
	var cpu time.Duration
	if b.NoChunks {
		err = b.run(ctx, runSpec{blend: blend, sceneDir: sceneDir, work: work, script: mk.renderScript(), params: params, mk: mk, cpu: &cpu,
			memory: render.MemoryLimitOf(t), output: render.OutputLimitOf(t)},
			func(line string) {
				if line == mk.done {
					done = true
					return
				}
				if f, msg, ok := p.parse(line); ok {
					progress(render.Progress{Fraction: f, Message: msg})
				}
			})
	} else {
		key := serverKey{blend: blend, sceneDir: sceneDir, memory: render.MemoryLimitOf(t), output: render.OutputLimitOf(t)}
		if st, err := os.Stat(blend); err == nil {
			key.modTime, key.size = st.ModTime(), st.Size()
		}
		cpu, err = b.renderServed(ctx, key, params, work, progress)
		done = err == nil
	}
	if err != nil {
		return render.Result{}, err
	}
	tmpOut := filepath.Join(work, "frame.png")
	region := t.Region()
	if err := checkPNG(tmpOut, region); err != nil || !done {
		if err == nil {
			err = errors.New("the render script did not finish")
		}
		return render.Result{}, fmt.Errorf("blender: %w", err)
	}
	name := fmt.Sprintf("frame_%04d.png", t.Frame)
	if r := t.Border; r != nil {
		name = fmt.Sprintf("frame_%04d_%d_%d_%d_%d.png", t.Frame, r.X0, r.Y0, r.X1, r.Y1)
	}
	extras, err := moveExtras(work, outDir, t)
	if err != nil {
		return render.Result{}, fmt.Errorf("blender: %w", err)
	}
	out := filepath.Join(outDir, name)
	if err := os.Rename(tmpOut, out); err != nil {
		return render.Result{}, err
	}
	progress(render.Progress{Fraction: 1, Message: "done"})
	return render.Result{Path: out, Width: region.Dx(), Height: region.Dy(), CPU: cpu, Extras: extras}, nil
}

// exrMagic starts every OpenEXR file.
var exrMagic = []byte{0x76, 0x2f, 0x31, 0x01}

// moveExtras checks the extra outputs the script wrote into work and moves
// them to outDir as frame_NNNN.EXT.
func moveExtras(work, outDir string, t render.Task) (map[string]string, error) {
	if t.Border != nil || len(t.Extras) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, ext := range t.Extras {
		src := filepath.Join(work, "frame."+ext)
		b := make([]byte, len(exrMagic))
		f, err := os.Open(src)
		if err != nil {
			return nil, fmt.Errorf("no %s output: %w", ext, err)
		}
		_, err = io.ReadFull(f, b)
		f.Close()
		if err != nil || ext == "exr" && string(b) != string(exrMagic) {
			return nil, fmt.Errorf("the %s output is not an OpenEXR file", ext)
		}
		if ext == "exr" {
			if err := zeroTimes(src); err != nil {
				return nil, fmt.Errorf("the exr output: %w", err)
			}
		}
		dst := filepath.Join(outDir, fmt.Sprintf("frame_%04d.%s", t.Frame, ext))
		if err := os.Rename(src, dst); err != nil {
			return nil, err
		}
		out[ext] = dst
	}
	return out, nil
}

// checkPNG checks that path is a PNG of the region's size.
func checkPNG(path string, region render.Rect) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("no output image: %w", err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(bufio.NewReader(f))
	if err != nil {
		return fmt.Errorf("output image: %w", err)
	}
	if cfg.Width != region.Dx() || cfg.Height != region.Dy() {
		return fmt.Errorf("output image is %dx%d, want %dx%d", cfg.Width, cfg.Height, region.Dx(), region.Dy())
	}
	return nil
}

// borderFractions converts a top-left, y-down pixel rectangle into
// Blender's border fractions [min_x, max_x, min_y, max_y] (origin
// bottom-left). Blender turns a fraction f into the pixel edge
// int(f*size) (truncation; Cycles does the same): p+0.25 lands on pixel
// edge p whether the product is truncated or rounded, with room for the
// float32 Blender stores.
func borderFractions(r render.Rect, w, h int) [4]float64 {
	frac := func(p, size int) float64 {
		switch {
		case p <= 0:
			return 0
		case p >= size:
			return 1
		}
		return (float64(p) + 0.25) / float64(size)
	}
	return [4]float64{frac(r.X0, w), frac(r.X1, w), frac(h-r.Y1, h), frac(h-r.Y0, h)}
}

// progressParser turns Blender's status lines into non-decreasing
// fractions: "Fra:1 Mem:... | Sample 12/64" (Cycles), "Rendered 3/8 Tiles,
// Sample 1/64" (Cycles 3.x rendering a frame larger than its tile size:
// 3 tiles finished, the fourth at sample 1), "Tile 2/4" (other versions),
// "Rendering 5 / 16 samples" (Eevee).
type progressParser struct{ last float64 }

var (
	sampleRE = regexp.MustCompile(`(?:Sample|Rendering) (\d+) ?/ ?(\d+)`)
	tileRE   = regexp.MustCompile(`(?:Tile (\d+)/(\d+)|Rendered (\d+)/(\d+) Tiles)`)
)

func (p *progressParser) parse(line string) (float64, string, bool) {
	if !strings.HasPrefix(line, "Fra:") {
		return 0, "", false
	}
	msg := line
	if i := strings.LastIndex(line, "| "); i >= 0 {
		msg = line[i+2:]
	}
	f := 0.01 // Blender is preparing the frame
	part := 0.0
	if m := sampleRE.FindStringSubmatch(line); m != nil {
		n, _ := strconv.Atoi(m[1])
		d, _ := strconv.Atoi(m[2])
		if d > 0 && n <= d {
			part = float64(n) / float64(d)
			f = 0.02 + 0.96*part
		}
	}
	if m := tileRE.FindStringSubmatch(line); m != nil {
		var n, d int
		if m[1] != "" { // "Tile n/d": the current tile, part done
			n, _ = strconv.Atoi(m[1])
			d, _ = strconv.Atoi(m[2])
			n--
		} else { // "Rendered n/d Tiles[, Sample s/S]": n finished, s/S of the next
			n, _ = strconv.Atoi(m[3])
			d, _ = strconv.Atoi(m[4])
		}
		if d > 0 && n >= 0 && n <= d {
			f = 0.02 + 0.96*min(1, (float64(n)+part)/float64(d))
		}
	}
	p.last = max(p.last, f)
	return p.last, msg, true
}
