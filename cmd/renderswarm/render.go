package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/node"
	"github.com/renderswarm/renderswarm/render"
)

// renderCmd renders frames on this machine with no node and no network,
// with the settings a volunteer would use for the same publish flags.
type renderCmd struct {
	Scene      string `arg:"" help:"Scene file (its directory holds its dependencies)." placeholder:"SCENE"`
	Root       string `help:"Project folder holding the scene and the files it uses (as publish --root); default: the scene's folder." type:"existingdir" placeholder:"DIR"`
	Renderer   string `default:"builtin" help:"Renderer backend." placeholder:"NAME"`
	Frames     string `help:"Frames, e.g. 1-24, 1-250x5 or 1,5,9-12 (default: the scene's range)." placeholder:"SPEC"`
	Resolution string `help:"Output size (default: the scene's)." placeholder:"WxH"`
	Samples    int    `help:"Samples per pixel (default: the scene's)." placeholder:"N"`
	Seed       int    `help:"Sampling seed, as in a job manifest." default:"0" placeholder:"N"`
	Threads    int    `help:"Worker threads (default: all CPUs)." placeholder:"N"`
	Output     string `short:"o" required:"" type:"path" help:"Directory for DIR/frame_NNNN.png." placeholder:"DIR"`

	stderr io.Writer // nil means os.Stderr (tests set it)
}

func (c *renderCmd) Run(ctx context.Context, _ *Globals) error {
	w := c.stderr
	if w == nil {
		w = os.Stderr
	}
	backends := node.Renderers(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})))
	b, ok := backends[c.Renderer]
	if !ok {
		names := make([]string, 0, len(backends))
		for n := range backends {
			names = append(names, n)
		}
		slices.Sort(names)
		return usageError{fmt.Errorf("unknown renderer %q (available: %s)", c.Renderer, strings.Join(names, ", "))}
	}
	if cl, ok := b.(io.Closer); ok {
		defer cl.Close() // a Blender kept for further frames
	}
	dir, file := filepath.Dir(c.Scene), filepath.Base(c.Scene)
	var info render.SceneInfo
	var err error
	if ri, ok := b.(render.RootInspector); ok && c.Root != "" {
		abs, err := filepath.Abs(c.Scene)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(c.Root, abs)
		if err != nil || !filepath.IsLocal(rel) {
			return usageError{fmt.Errorf("scene %s is not inside --root %s", c.Scene, c.Root)}
		}
		dir, file = c.Root, filepath.ToSlash(rel)
		info, err = ri.InspectRoot(ctx, abs, c.Root)
		if err != nil {
			return err
		}
	} else if info, err = b.Inspect(ctx, c.Scene); err != nil {
		return err // names the scene file already
	}
	tmpl, frames, err := c.plan(info)
	tmpl.SceneDir, tmpl.SceneFile = dir, file
	if err != nil {
		return usageError{err}
	}
	if err := os.MkdirAll(c.Output, 0o755); err != nil {
		return fmt.Errorf("creating output directory: %w", err)
	}
	tmpl.OutputDir = c.Output
	st := newRenderStatus(w, len(frames))
	for i, f := range frames {
		t := tmpl
		t.Frame = f
		res, err := b.Render(ctx, t, func(p render.Progress) { st.update(i, f, p.Fraction) })
		if err != nil {
			st.finish()
			if errors.Is(err, context.Canceled) {
				return fmt.Errorf("interrupted at frame %d", f)
			}
			return fmt.Errorf("rendering frame %d: %w", f, err)
		}
		want := filepath.Join(c.Output, fmt.Sprintf("frame_%04d.png", f))
		if res.Path != want {
			if err := os.Rename(res.Path, want); err != nil {
				st.finish()
				return fmt.Errorf("frame %d: %w", f, err)
			}
		}
		st.frameDone(i, f)
	}
	st.finish()
	fmt.Fprintf(w, "rendered %d frame(s) at %dx%d, %d samples, into %s in %s\n",
		len(frames), tmpl.Width, tmpl.Height, tmpl.Samples, c.Output, st.elapsed())
	return nil
}

// plan turns the flags and the scene's defaults into a task template and
// the frame list.
func (c *renderCmd) plan(info render.SceneInfo) (render.Task, []int, error) {
	t := render.Task{
		SceneDir: filepath.Dir(c.Scene), SceneFile: filepath.Base(c.Scene),
		Width: info.Width, Height: info.Height, Samples: info.Samples,
		Seed: uint64(c.Seed), Threads: c.Threads,
	}
	if c.Seed < 0 || c.Seed > job.MaxSeed {
		return t, nil, fmt.Errorf("--seed %d outside 0..%d", c.Seed, job.MaxSeed)
	}
	if c.Resolution != "" {
		w, h, err := render.ParseResolution(c.Resolution)
		if err != nil {
			return t, nil, fmt.Errorf("--resolution: %w", err)
		}
		t.Width, t.Height = w, h
	}
	if c.Samples != 0 {
		t.Samples = c.Samples
	}
	frames := make([]int, 0, info.FrameEnd-info.FrameStart+1)
	for f := info.FrameStart; f <= info.FrameEnd; f++ {
		frames = append(frames, f)
	}
	if c.Frames != "" {
		spec, err := job.ParseFrameSpec(c.Frames)
		if err != nil {
			return t, nil, fmt.Errorf("--frames: %w", err)
		}
		frames = spec.Frames()
	}
	probe := t
	probe.Frame, probe.OutputDir = frames[0], c.Output
	if err := probe.Validate(); err != nil {
		return t, nil, err
	}
	return t, frames, nil
}

// renderStatus shows "frame 10  [3/24]  41%  ETA 6s": one updating
// line on a terminal, one line per finished frame otherwise.
type renderStatus struct {
	w     io.Writer
	tty   bool
	n     int
	start time.Time
	last  time.Time
	drawn bool
}

func newRenderStatus(w io.Writer, n int) *renderStatus {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &renderStatus{w: w, tty: tty, n: n, start: time.Now()}
}

func (s *renderStatus) line(i, frame int, frac float64) string {
	total := (float64(i) + min(max(frac, 0), 1)) / float64(s.n)
	eta := "--"
	if el := time.Since(s.start); total > 0.01 {
		eta = (time.Duration(float64(el) / total * (1 - total))).Round(100 * time.Millisecond).String()
	}
	return fmt.Sprintf("frame %d  [%d/%d]  %3.0f%%  ETA %s", frame, i+1, s.n, total*100, eta)
}

func (s *renderStatus) update(i, frame int, frac float64) {
	if !s.tty || time.Since(s.last) < 100*time.Millisecond {
		return
	}
	s.last = time.Now()
	fmt.Fprintf(s.w, "\r\033[K%s", s.line(i, frame, frac))
	s.drawn = true
}

func (s *renderStatus) frameDone(i, frame int) {
	if s.tty {
		s.last = time.Time{}
		s.update(i, frame, 1)
		return
	}
	fmt.Fprintln(s.w, s.line(i, frame, 1))
}

func (s *renderStatus) finish() {
	if s.drawn {
		fmt.Fprintln(s.w)
		s.drawn = false
	}
}

func (s *renderStatus) elapsed() time.Duration {
	return time.Since(s.start).Round(10 * time.Millisecond)
}
