package povray

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
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
const Name = "povray"

// DefaultMemoryLimit is the address-space limit (RLIMIT_AS) of a render
// when Backend.MemoryLimit is 0.
const DefaultMemoryLimit = 4 << 30

// Backend renders POV-Ray scenes by running the povray program. The zero
// value is ready to use; it is safe for concurrent use.
type Backend struct {
	// Program is the povray executable; "" means "povray" on $PATH.
	Program string
	// MemoryLimit caps a render's address space in bytes (via prlimit
	// when installed); 0 means DefaultMemoryLimit, negative means none.
	MemoryLimit int64
	// NoSandbox disables bubblewrap even when it is installed.
	NoSandbox bool
	// Logger receives the one-time notice about the sandbox; nil means
	// slog.Default().
	Logger *slog.Logger

	sandboxOnce sync.Once
	bwrap       string // bwrap path if it works here, else ""
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
	env := []string{"HOME=" + home, "LANG=C", "LC_ALL=C"}
	if p := os.Getenv("PATH"); p != "" {
		env = append(env, "PATH="+p)
	}
	return env
}

// samplesArgs maps Task.Samples to antialiasing switches: 0 keeps the
// scene's own settings; 1 turns antialiasing off (one ray per pixel); n > 1
// is non-adaptive-in-effect supersampling: method 1 with threshold 0 and an
// n'×n' grid where n' = ceil(sqrt(n)) clamped to 2..9 (POV-Ray's maximum
// depth), so every pixel that differs at all from its neighbours gets n'²
// samples. Jitter is always off (-J): it is what makes POV-Ray's output
// depend on render order.
func samplesArgs(samples int) []string {
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
func (b *Backend) Render(ctx context.Context, t render.Task, progress func(render.Progress)) (render.Result, error) {
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
	var argv []string
	if lim := b.memoryLimit(); lim > 0 {
		if p, err := exec.LookPath("prlimit"); err == nil {
			argv = append(argv, p, "--as="+strconv.FormatInt(lim, 10), "--")
		}
	}
	argv = append(argv, prog)
	argv = append(argv, args...)
	if bw := b.sandbox(); bw != "" {
		argv = append(bwrapArgs(bw, sceneDir, cwd, work, confPath), argv...)
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
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
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

	tail := newTail(40)
	scanErr := scanStderr(stderr, tail, report)
	waitErr := cmd.Wait()
	close(done)
	if ctx.Err() != nil {
		killGroup(proc)
		return render.Result{}, fmt.Errorf("povray: %w", ctx.Err())
	}
	if waitErr != nil || scanErr != nil {
		return render.Result{}, povError(waitErr, tail)
	}
	res, err := finish(imgDir, outDir, t)
	if err != nil {
		return render.Result{}, fmt.Errorf("%w (povray: %s)", err, tail.summary())
	}
	report(1, "done")
	return res, nil
}

func (b *Backend) memoryLimit() int64 {
	switch {
	case b.MemoryLimit == 0:
		return DefaultMemoryLimit
	case b.MemoryLimit < 0:
		return 0
	}
	return b.MemoryLimit
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
	args = append(args, samplesArgs(t.Samples)...)
	args = append(args, borderArgs(renderRegion(t.Region(), t.Width, t.Height), t.Width, t.Height)...)
	return args, nil
}

// libraryPaths are POV-Ray's own include directories, searched after the
// scene's directory.
var libraryPaths = []string{
	"/usr/share/povray-3.7", "/usr/share/povray-3.7/ini", "/usr/share/povray-3.7/include",
	"/usr/local/share/povray-3.7", "/usr/local/share/povray-3.7/ini", "/usr/local/share/povray-3.7/include",
}

// systemIni replaces POV-Ray's system povray.ini (through $POVINI): the
// scene's directory is the first library path, so the scene's includes,
// image maps and data files resolve exactly as if povray ran there (a
// local colors.inc shadows the system one), while relative writes land in
// the scratch working directory.
func systemIni(sceneDir string) string {
	var b strings.Builder
	b.WriteString("; generated by renderswarm for one render\nOutput_to_File=true\nOutput_File_Type=N8\nBounding_Threshold=3\nVerbose=On\n")
	fmt.Fprintf(&b, "Library_Path=\"%s\"\n", sceneDir)
	for _, p := range libraryPaths {
		if _, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "Library_Path=\"%s\"\n", p)
		}
	}
	return b.String()
}

// ioConf is the povray.conf for one render: file I/O restricted to reading
// the scene dir and POV-Ray's own library, writing the scratch dir;
// no shell-outs.
func ioConf(sceneDir, writeDir string) string {
	return fmt.Sprintf(`; generated by renderswarm for one render
[File I/O Security]
restricted
[Shellout Security]
forbidden
[Permitted Paths]
read* = /usr/share/povray-3.7
read* = /usr/local/share/povray-3.7
read* = /etc/povray
read* = %s
read+write* = %s
`, sceneDir, writeDir)
}

// sandbox returns the bwrap path when bubblewrap is installed and can
// create its namespaces here; it checks once and logs a fallback once.
func (b *Backend) sandbox() string {
	if b.NoSandbox || runtime.GOOS != "linux" {
		return ""
	}
	b.sandboxOnce.Do(func() {
		p, err := exec.LookPath("bwrap")
		if err != nil {
			b.logger().Info("povray: bubblewrap not installed; rendering without a sandbox (POV-Ray I/O restrictions only)")
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		prog, err := exec.LookPath(b.program())
		if err != nil {
			return
		}
		argv := append(bwrapArgs(p, "", "/", "", ""), prog, "--version")
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			b.logger().Warn("povray: bubblewrap cannot create its sandbox here; rendering without it (POV-Ray I/O restrictions only)",
				"err", err, "output", strings.TrimSpace(string(out)))
			return
		}
		b.bwrap = p
	})
	return b.bwrap
}

// bwrapArgs is the bubblewrap prefix. Only what POV-Ray needs is visible,
// read-only: /usr (with the /bin, /lib... links of a merged-/usr system or
// the real directories of an older one), POV-Ray's /etc/povray and the
// dynamic loader's cache, and the scene directory. The scratch dir (inside
// the output dir) is the only writable place besides a private /tmp; the
// generated povray.conf replaces the system one. Home directories, /var,
// the node's keys and database are not there at all, so a scene cannot
// read them (and, say, encode them into its pixels). No network, no shared
// namespaces, killed with its parent.
func bwrapArgs(bwrap, sceneDir, cwd, work, conf string) []string {
	a := []string{bwrap,
		"--ro-bind", "/usr", "/usr",
	}
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		if fi, err := os.Lstat(d); err == nil {
			if fi.Mode()&os.ModeSymlink != 0 {
				if target, err := os.Readlink(d); err == nil {
					a = append(a, "--symlink", target, d)
				}
			} else if fi.IsDir() {
				a = append(a, "--ro-bind", d, d)
			}
		}
	}
	for _, f := range []string{"/etc/povray", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/localtime"} {
		a = append(a, "--ro-bind-try", f, f)
	}
	a = append(a,
		"--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
		"--unshare-all", "--die-with-parent", "--new-session",
	)
	if sceneDir != "" {
		a = append(a, "--ro-bind", sceneDir, sceneDir)
	}
	if work != "" {
		a = append(a, "--bind", work, work)
	}
	if conf != "" {
		a = append(a, "--ro-bind", conf, "/etc/povray/3.7/povray.conf")
	}
	return append(a, "--chdir", cwd, "--")
}

var fopenWriteRE = regexp.MustCompile(`#\s*fopen\b[^\n]*\b(write|append)\b`)

// unsandboxedCheck is the weak static defence used when bubblewrap is not
// available (POV-Ray 3.7.0.10's own I/O restrictions were measured to be
// ineffective): the scene must pass Inspect (no absolute or escaping
// literal file references) and no scene file may open a file for writing.
// It cannot see paths a scene computes at parse time.
func (b *Backend) unsandboxedCheck(ctx context.Context, scenePath string) error {
	si, err := b.Inspect(ctx, scenePath)
	if err != nil {
		return err
	}
	dir := filepath.Dir(scenePath)
	for _, f := range append([]string{filepath.Base(scenePath)}, si.Files...) {
		switch strings.ToLower(filepath.Ext(f)) {
		case ".pov", ".inc", ".mcr", ".ini":
		default:
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			return fmt.Errorf("%w: %s: %v", render.ErrSceneInvalid, f, err)
		}
		if fopenWriteRE.Match(data) {
			return fmt.Errorf("%w: %s opens a file for writing, allowed only inside the bubblewrap sandbox (not available here)", render.ErrUnsupported, f)
		}
	}
	return nil
}

var renderedRE = regexp.MustCompile(`Rendered (\d+) of (\d+) pixels`)

// scanStderr reads povray's stderr, keeping its last lines in tail and
// turning "Rendered N of M pixels" lines into progress.
func scanStderr(r io.Reader, tail *tailBuf, report func(float64, string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	parsing := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		tail.add(line)
		if m := renderedRE.FindStringSubmatch(line); m != nil {
			n, _ := strconv.ParseFloat(m[1], 64)
			d, _ := strconv.ParseFloat(m[2], 64)
			if d > 0 {
				report(0.05+0.94*min(n/d, 1), "rendering")
			}
		} else if !parsing && strings.HasPrefix(line, "Parsing") {
			parsing = true
			report(0.01, "parsing")
		}
	}
	return sc.Err()
}

// tailBuf keeps the last lines of output.
type tailBuf struct {
	n     int
	lines []string
	errs  []string // error messages, continuation lines joined
	cont  bool     // the last line was part of an error message
}

func newTail(n int) *tailBuf { return &tailBuf{n: n} }

func (t *tailBuf) add(l string) {
	if len(t.lines) == t.n {
		t.lines = t.lines[1:]
	}
	t.lines = append(t.lines, l)
	end := strings.HasPrefix(l, "Fatal") || strings.HasPrefix(l, "Render failed") || strings.HasPrefix(l, "====") || strings.HasPrefix(l, "----")
	switch {
	case strings.Contains(l, "Error") || strings.Contains(l, "error"):
		if len(t.errs) < 4 {
			t.errs = append(t.errs, l)
		}
		t.cont = !end
	case t.cont && !end && len(t.errs) > 0 && len(t.errs[len(t.errs)-1]) < 500:
		t.errs[len(t.errs)-1] += " " + l
	default:
		t.cont = false
	}
}

func (t *tailBuf) last() string {
	if len(t.lines) == 0 {
		return "(no output)"
	}
	return t.lines[len(t.lines)-1]
}

// summary is the first error lines and the last line of output.
func (t *tailBuf) summary() string {
	parts := append([]string(nil), t.errs...)
	if l := t.last(); len(parts) == 0 || parts[len(parts)-1] != l {
		parts = append(parts, l)
	}
	return strings.Join(parts, " | ")
}

// sceneErrorMarks are povray messages that blame the scene, not the task or
// machine.
var sceneErrorMarks = []string{"Parse Error", "Fatal error in parser", "Cannot open", "Cannot find", "not found", "Permission denied", "Illegal"}

func povError(waitErr error, tail *tailBuf) error {
	msg := tail.summary()
	all := strings.Join(tail.lines, "\n")
	if strings.Contains(all, "bad_alloc") || strings.Contains(all, "Out of memory") || strings.Contains(all, "out of memory") {
		return fmt.Errorf("%w: the scene exceeds the memory limit: povray: %s", render.ErrTaskInvalid, msg)
	}
	for _, m := range sceneErrorMarks {
		if strings.Contains(all, m) {
			return fmt.Errorf("%w: povray: %s", render.ErrSceneInvalid, msg)
		}
	}
	if waitErr == nil {
		waitErr = errors.New("reading its output failed")
	}
	return fmt.Errorf("povray failed (%v): %s", waitErr, msg)
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

func lastLine(out []byte) string {
	lines := strings.FieldsFunc(strings.TrimSpace(string(out)), func(r rune) bool { return r == '\n' || r == '\r' })
	if len(lines) == 0 {
		return "(no output)"
	}
	return lines[len(lines)-1]
}
