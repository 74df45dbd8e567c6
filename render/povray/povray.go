package povray

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/renderswarm/renderswarm/render"
)

// Name is the backend's registry name.
const Name = "povray"

// Backend renders POV-Ray scenes by running the povray program. The zero
// value is ready to use; it is safe for concurrent use.
type Backend struct {
	// Program is the povray executable; "" means "povray" on $PATH.
	Program string
	// NoSandbox disables bubblewrap even when it is installed.
	NoSandbox bool
	// Logger receives the one-time notice about the sandbox; nil means
	// slog.Default().
	Logger *slog.Logger

	sandboxOnce sync.Once
	bwrap       string // bwrap path if it works here, else ""
	whyNot      string // why there is no sandbox
}

var _ render.Backend = (*Backend)(nil)

// New returns a POV-Ray backend using "povray" from $PATH.
func New() *Backend { return &Backend{} }

func (b *Backend) program() string {
	if b.Program != "" {
		return b.Program
	}
	return "povray"
}

func (b *Backend) logger() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.Default()
}

var versionRE = regexp.MustCompile(`POV-Ray\s+(\d+\.\d+(?:\.\d+)*)`)

// Probe runs "povray --version" and reports e.g. version "3.7.0.10".
func (b *Backend) Probe(ctx context.Context) (render.Info, error) {
	prog, err := exec.LookPath(b.program())
	if err != nil {
		return render.Info{}, fmt.Errorf("%w: povray: %v", render.ErrUnavailable, err)
	}
	home, err := os.MkdirTemp("", "renderswarm-povray-probe-")
	if err != nil {
		return render.Info{}, err
	}
	defer os.RemoveAll(home)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, "--version")
	cmd.Env = childEnv(home)
	out, err := cmd.CombinedOutput()
	m := versionRE.FindSubmatch(out)
	if m == nil {
		if ctx.Err() != nil {
			return render.Info{}, ctx.Err()
		}
		return render.Info{}, fmt.Errorf("%w: %s --version: %v: %s", render.ErrUnavailable, prog, err, lastLine(out))
	}
	return render.Info{Name: Name, Version: string(m[1]), Capabilities: render.Capabilities{
		Border: true, Animation: true, Deterministic: true,
	}}, nil
}

// childEnv is the environment of a povray process: no display, HOME set to
// the private directory holding the generated povray.conf.
func childEnv(home string) []string {
	env := []string{"HOME=" + home, "TMPDIR=" + home, "LANG=C", "LC_ALL=C"}
	if p := os.Getenv("PATH"); p != "" {
		env = append(env, "PATH="+p)
	}
	return env
}

// SamplesArgs maps Task.Samples to antialiasing switches: 0 keeps the
// scene's own settings; 1 turns antialiasing off (one ray per pixel); n > 1
// is non-adaptive-in-effect supersampling: method 1 with threshold 0 and an
// n'×n' grid where n' = ceil(sqrt(n)) clamped to 2..9 (POV-Ray's maximum
// depth), so every pixel that differs at all from its neighbours gets n'²
// samples. Jitter is always off (-J): it is what makes POV-Ray's output
// depend on render order.
func SamplesArgs(samples int) []string {
	switch {
	case samples == 0:
		return []string{"-J"}
	case samples == 1:
		return []string{"-A", "-J"}
	}
	d := 2
	for d*d < samples && d < 9 {
		d++
	}
	return []string{"+A0.0", "+AM1", "+R" + strconv.Itoa(d), "-J"}
}

// blockSize is POV-Ray's render block size, passed explicitly (+BS):
// antialiasing method 1 decides whether to supersample a pixel by comparing
// it with its neighbours within the pixel's block, so a border render
// covers whole blocks of the full frame's block grid (then cropped away)
// to make the same decisions as the full frame.
const blockSize = 32

// renderRegion is region r widened to the full frame's block grid, clipped
// to the frame.
func renderRegion(r render.Rect, w, h int) render.Rect {
	up := func(v, lim int) int { return min(lim, (v+blockSize-1)/blockSize*blockSize) }
	return render.Rect{
		X0: r.X0 / blockSize * blockSize, Y0: r.Y0 / blockSize * blockSize,
		X1: up(r.X1, w), Y1: up(r.Y1, h),
	}
}

// borderArgs returns the partial-render switches for region r of a w×h
// frame. POV-Ray's +SC/+EC/+SR/+ER are 1-based inclusive pixel numbers,
// but a value of exactly 1 as an end is read as the fraction 1.0 (the whole
// side): such a region is widened by one pixel and cropped afterwards.
func borderArgs(r render.Rect, w, h int) []string {
	if r.X0 == 0 && r.Y0 == 0 && r.X1 == w && r.Y1 == h {
		return nil
	}
	ec, er := r.X1, r.Y1
	if ec == 1 && w > 1 {
		ec = 2
	}
	if er == 1 && h > 1 {
		er = 2
	}
	return []string{
		"+SC" + strconv.Itoa(r.X0+1), "+EC" + strconv.Itoa(ec),
		"+SR" + strconv.Itoa(r.Y0+1), "+ER" + strconv.Itoa(er),
	}
}

// Render renders one frame of t's scene (a .pov, or an .ini naming one).
// A render whose sandbox failed to start is run again (render.SandboxTries).
func (b *Backend) Render(ctx context.Context, t render.Task, progress func(render.Progress)) (render.Result, error) {
	return render.RetrySandboxStart(ctx, func() (render.Result, error) { return b.render(ctx, t, progress) })
}

func (b *Backend) render(ctx context.Context, t render.Task, progress func(render.Progress)) (render.Result, error) {
	if err := t.CheckExtras(); err != nil {
		return render.Result{}, err
	}
	if err := t.Validate(); err != nil {
		return render.Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return render.Result{}, err
	}
	if !filepath.IsLocal(filepath.FromSlash(t.SceneFile)) {
		return render.Result{}, fmt.Errorf("%w: scene file %q is not inside the scene directory", render.ErrTaskInvalid, t.SceneFile)
	}
	sceneDir, err := filepath.Abs(t.SceneDir)
	if err != nil {
		return render.Result{}, fmt.Errorf("%w: %v", render.ErrSceneInvalid, err)
	}
	scenePath := filepath.Join(sceneDir, filepath.FromSlash(t.SceneFile))
	if fi, err := os.Stat(scenePath); err != nil || !fi.Mode().IsRegular() {
		if err == nil {
			err = errors.New("not a regular file")
		}
		return render.Result{}, fmt.Errorf("%w: %s: %v", render.ErrSceneInvalid, t.SceneFile, err)
	}
	outDir, err := filepath.Abs(t.OutputDir)
	if err != nil {
		return render.Result{}, fmt.Errorf("%w: %v", render.ErrTaskInvalid, err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return render.Result{}, fmt.Errorf("output dir: %w", err)
	}
	prog, err := exec.LookPath(b.program())
	if err != nil {
		return render.Result{}, fmt.Errorf("%w: povray: %v", render.ErrUnavailable, err)
	}
	report := func(f float64, msg string) {}
	if progress != nil {
		last := 0.0
		report = func(f float64, msg string) {
			if f < last {
				f = last
			}
			last = f
			progress(render.Progress{Fraction: f, Message: msg})
		}
	}
	report(0, "starting povray")
	if err := ctx.Err(); err != nil {
		return render.Result{}, err
	}

	// Scratch space inside the output dir: HOME with povray.conf, and the
	// full-size image POV-Ray writes. Removed before returning.
	work, err := os.MkdirTemp(outDir, ".povray-")
	if err != nil {
		return render.Result{}, fmt.Errorf("scratch dir: %w", err)
	}
	defer os.RemoveAll(work)
	imgDir := filepath.Join(work, "img")
	cwd := filepath.Join(work, "cwd")
	confDir := filepath.Join(work, ".povray", "3.7")
	for _, d := range []string{imgDir, cwd, confDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return render.Result{}, err
		}
	}
	mainDir := filepath.Dir(scenePath)
	if strings.ContainsAny(mainDir, "\"\n\r;") {
		return render.Result{}, fmt.Errorf("%w: scene directory %q has characters POV-Ray's ini syntax cannot carry", render.ErrTaskInvalid, mainDir)
	}
	confPath := filepath.Join(confDir, "povray.conf")
	iniPath := filepath.Join(work, "povray.ini")
	if err := os.WriteFile(confPath, []byte(ioConf(sceneDir, work)), 0o644); err != nil {
		return render.Result{}, err
	}
	if err := os.WriteFile(iniPath, []byte(systemIni(mainDir)), 0o644); err != nil {
		return render.Result{}, err
	}

	args, err := b.args(scenePath, filepath.Join(imgDir, "frame.png"), t)
	if err != nil {
		return render.Result{}, err
	}
	argv := append([]string{prog}, args...)
	if bw := b.sandbox(); bw != "" {
		argv = append(sandboxBox(prog, sceneDir, cwd, work, confPath).Args(bw), argv...)
	} else if err := b.unsandboxedCheck(ctx, scenePath); err != nil {
		return render.Result{}, err
	}

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = cwd
	cmd.Env = append(childEnv(work), "POVINI="+iniPath)
	cmd.SysProcAttr = sysProcAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return render.Result{}, err
	}
	stdout := &lastBytes{max: 4 << 10}
	cmd.Stdout = stdout
	lim := render.LimitsOf(t)
	if err := render.Start(cmd, lim); err != nil {
		return render.Result{}, fmt.Errorf("%w: starting povray: %v", render.ErrUnavailable, err)
	}
	proc := cmd.Process
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			killGroup(proc)
		case <-done:
		}
	}()
	overflowed := render.WatchSize(work, lim.FileSize, func() { killGroup(proc) })

	tail := newTail(40)
	scanErr := scanStderr(stderr, tail, report)
	waitErr := cmd.Wait()
	close(done)
	over := overflowed()
	if ctx.Err() != nil {
		killGroup(proc)
		return render.Result{}, fmt.Errorf("povray: %w", ctx.Err())
	}
	if over || render.FileTooLarge(waitErr) {
		return render.Result{}, fmt.Errorf("%w: povray wrote more than its output limit of %s", render.ErrTaskInvalid, render.Size(lim.FileSize))
	}
	if waitErr != nil || scanErr != nil {
		err := povError(waitErr, tail, sceneDir, lim.Memory)
		if render.SandboxFailed(tail.first) {
			err = fmt.Errorf("povray: %w", render.ErrSandboxStart)
		}
		// The publisher gets the sanitized reason; this machine's own log
		// keeps what povray really said, to find out why it failed.
		b.logger().Warn("povrayFailed", "scene", t.SceneFile, "frame", t.Frame, "err", err,
			"stderr", tail.raw(8), "stdout", stdout.String())
		return render.Result{}, err
	}
	res, err := finish(imgDir, outDir, t)
	if err != nil {
		return render.Result{}, fmt.Errorf("%w (povray: %s)", err, tail.summary(sceneDir))
	}
	res.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	report(1, "done")
	return res, nil
}

// args builds povray's command line for t (after the program name).
func (b *Backend) args(scenePath, out string, t render.Task) ([]string, error) {
	var args []string
	if isIni(scenePath) {
		ini, err := readIni(scenePath)
		if err != nil {
			return nil, err
		}
		if ini.input == "" {
			return nil, fmt.Errorf("%w: %s: no Input_File_Name", render.ErrSceneInvalid, filepath.Base(scenePath))
		}
		if _, err := localRef(filepath.Base(scenePath), ini.input); err != nil {
			return nil, err
		}
		args = append(args, scenePath)
		if ini.hasFrames {
			if t.Frame < ini.frameStart || t.Frame > ini.frameEnd {
				return nil, fmt.Errorf("%w: frame %d outside the scene's frames %d-%d",
					render.ErrTaskInvalid, t.Frame, ini.frameStart, ini.frameEnd)
			}
			f := strconv.Itoa(t.Frame)
			args = append(args, "+SF"+f, "+EF"+f)
		} else if !ini.clockSet {
			args = append(args, "+K"+strconv.Itoa(t.Frame))
		}
	} else {
		args = append(args, "+I"+scenePath, "+K"+strconv.Itoa(t.Frame))
	}
	args = append(args,
		"+O"+out, "+FN8",
		"+W"+strconv.Itoa(t.Width), "+H"+strconv.Itoa(t.Height),
		"-D", "-P", "+WT1", "+BS"+strconv.Itoa(blockSize),
	)
	args = append(args, SamplesArgs(t.Samples)...)
	args = append(args, borderArgs(renderRegion(t.Region(), t.Width, t.Height), t.Width, t.Height)...)
	return args, nil
}

// finish crops POV-Ray's full-size image to the task's region and writes
// it as OutputDir/frame.png (via a temporary name and rename).
func finish(imgDir, outDir string, t render.Task) (render.Result, error) {
	matches, _ := filepath.Glob(filepath.Join(imgDir, "*.png"))
	if len(matches) != 1 {
		return render.Result{}, fmt.Errorf("povray wrote %d images, want 1", len(matches))
	}
	data, err := os.ReadFile(matches[0])
	if err != nil {
		return render.Result{}, err
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return render.Result{}, fmt.Errorf("decoding povray's image: %w", err)
	}
	if b := img.Bounds(); b.Dx() != t.Width || b.Dy() != t.Height {
		return render.Result{}, fmt.Errorf("povray wrote a %dx%d image, want %dx%d", b.Dx(), b.Dy(), t.Width, t.Height)
	}
	r := t.Region()
	if t.Border != nil {
		type sub interface {
			SubImage(image.Rectangle) image.Image
		}
		s, ok := img.(sub)
		if !ok {
			return render.Result{}, fmt.Errorf("povray's image type %T cannot be cropped", img)
		}
		img = s.SubImage(r.Image().Add(img.Bounds().Min))
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return render.Result{}, err
		}
		data = buf.Bytes()
	}
	final := filepath.Join(outDir, "frame.png")
	tmp := filepath.Join(imgDir, "out.tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return render.Result{}, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return render.Result{}, err
	}
	return render.Result{Path: final, Width: r.Dx(), Height: r.Dy()}, nil
}
