package render

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Sandboxer is a backend that runs a program on scenes, inside a
// bubblewrap sandbox where one works. The node renders strangers' scenes
// with such a backend only when Sandboxed is true, unless its user opted
// in (DESIGN.md §4).
type Sandboxer interface {
	// Sandboxed reports whether this backend's renders run inside a
	// sandbox seen working on this machine, and if not, why. The first
	// call may take a few seconds: it runs the renderer in the sandbox.
	Sandboxed() (ok bool, why string)
}

// ErrSandboxStart: bubblewrap itself failed (it says why on its standard
// error, "bwrap: …") before the renderer ran, e.g. creating a namespace on
// a loaded machine. The scene had no part in it; a backend runs it again
// (SandboxTries) before it reports the failure.
var ErrSandboxStart = errors.New("the sandbox (bubblewrap) failed to start")

// SandboxTries is how many times a backend runs a render whose sandbox
// failed to start (ErrSandboxStart), a second apart.
const SandboxTries = 3

// RetrySandboxStart runs do, and again (up to SandboxTries in all, a
// second apart) while it fails with ErrSandboxStart and ctx lasts.
func RetrySandboxStart[T any](ctx context.Context, do func() (T, error)) (T, error) {
	for try := 1; ; try++ {
		v, err := do()
		if !errors.Is(err, ErrSandboxStart) || try == SandboxTries {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(time.Second):
		}
	}
}

// SandboxFailed reports whether a failed run's output begins with
// bubblewrap's own error message ("bwrap: …"): bwrap failed before the
// renderer ran. Only the beginning counts: a renderer prints its banner
// before anything a scene can make it print, such as bwrap's words.
func SandboxFailed(output string) bool {
	return strings.HasPrefix(strings.TrimSpace(output), "bwrap: ")
}

// systemDirs are shown read-only in every sandbox: /usr, and /bin, /sbin
// and /lib* as the links of a merged-/usr system or the directories of an
// older one.
var systemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// loaderFiles are what the dynamic loader and Debian's alternatives need
// from /etc (a library such as liblapack.so.3 is a link through
// /etc/alternatives); nothing else of /etc is shown unless a backend asks.
var loaderFiles = []string{"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/localtime"}

// Sandbox is the bubblewrap jail of one renderer run: no network and no
// namespace shared with the node, no capabilities, killed with its
// parent; the system directories, the loader's files, the backend's Etc
// paths, the program's own directory and SceneDir visible read-only;
// WorkDir the only writable directory. Everything else — home
// directories (the node's keys and database), /var, the rest of /etc —
// is not there at all, and the sandbox's own root, /tmp and /dev are
// read-only, so nothing a render writes escapes WorkDir, whose size the
// backend bounds.
type Sandbox struct {
	Program  string      // the renderer's executable: its directory is shown when outside the system directories
	Etc      []string    // further paths under /etc the renderer reads, shown read-only when they exist
	SceneDir string      // shown read-only; "" for none
	WorkDir  string      // the only writable directory
	Chdir    string      // working directory inside; "" means WorkDir
	Binds    [][2]string // further read-only binds, source then destination (e.g. a generated config file)
}

// Args is the bubblewrap command line up to and including "--"; the
// program and its arguments follow.
func (s Sandbox) Args(bwrap string) []string {
	a := []string{bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
		"--ro-bind", "/usr", "/usr"}
	for _, d := range systemDirs[1:] {
		fi, err := os.Lstat(d)
		switch {
		case err != nil:
		case fi.Mode()&os.ModeSymlink != 0:
			if target, err := os.Readlink(d); err == nil {
				a = append(a, "--symlink", target, d)
			}
		case fi.IsDir():
			a = append(a, "--ro-bind", d, d)
		}
	}
	for _, f := range append(slices.Clone(loaderFiles), s.Etc...) {
		a = append(a, "--ro-bind-try", f, f)
	}
	a = append(a, "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp")
	// A renderer outside the system directories (unpacked in /opt or a
	// home, a wrapper script) needs its own directory; bound after the
	// private /tmp, or one there would be hidden.
	for _, d := range ProgramDirs(s.Program, systemDirs) {
		a = append(a, "--ro-bind", d, d)
	}
	if s.SceneDir != "" {
		a = append(a, "--ro-bind", s.SceneDir, s.SceneDir)
	}
	for _, b := range s.Binds {
		a = append(a, "--ro-bind", b[0], b[1])
	}
	chdir := s.Chdir
	if chdir == "" {
		chdir = s.WorkDir
	}
	return append(a, "--bind", s.WorkDir, s.WorkDir,
		"--remount-ro", "/tmp", "--remount-ro", "/dev", "--remount-ro", "/",
		"--chdir", chdir, "--")
}

// ProgramDirs are the directories a sandbox that shows only the system
// directories must also show, read-only, for program to run: the
// program's own directory and that of its symlink target, when they are
// not under one of system (a renderer unpacked in /opt or a home, a
// wrapper script). Bind them after any private /tmp, or a program under
// /tmp is hidden.
func ProgramDirs(program string, system []string) []string {
	if program == "" {
		return nil
	}
	under := func(dir string) bool {
		for _, d := range system {
			if dir == d || strings.HasPrefix(dir, d+"/") {
				return true
			}
		}
		return false
	}
	var out []string
	dirs := []string{filepath.Dir(program)}
	if real, err := filepath.EvalSymlinks(program); err == nil {
		dirs = append(dirs, filepath.Dir(real))
	}
	for _, d := range dirs {
		if d, err := filepath.Abs(d); err == nil && !under(d) && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// probeScript runs inside a sandbox under test, with $1 a file outside
// its scene and work directories, $2 the scene directory and $3 the work
// directory; it prints sandboxOK only if every boundary holds.
const probeScript = `
[ -e "$1" ] && { echo "a file outside the scene and work directories is visible"; exit 1; }
[ -r "$2/scene-file" ] || { echo "the scene directory is not readable"; exit 1; }
( : > "$2/probe" ) 2>/dev/null && { echo "the scene directory is writable"; exit 1; }
( : > /probe ) 2>/dev/null && { echo "the sandbox's root is writable"; exit 1; }
( : > /tmp/probe ) 2>/dev/null && { echo "/tmp is writable"; exit 1; }
: > "$3/probe" || { echo "the work directory is not writable"; exit 1; }
n=0
while read -r l; do case $l in *:*) n=$((n+1));; esac; done < /proc/net/dev
[ "$n" -le 1 ] || { echo "the network is visible ($n interfaces)"; exit 1; }
echo ` + sandboxOK

const sandboxOK = "RENDERSWARM_SANDBOX_OK"

// ProbeSandbox checks that bubblewrap really isolates a renderer on this
// machine, not merely that it is installed: in the sandbox sb builds for a
// scene and a work directory it runs the renderer (run, e.g. "povray
// --version", whose combined output must satisfy ok), then a shell that
// checks the boundaries (a file beside the two directories invisible, the
// scene readable but not writable, the work directory writable and
// nothing else, loopback the only network interface), and checks on the
// host that the work directory's write arrived and the scene is
// unchanged. The error is one line saying what failed.
func ProbeSandbox(ctx context.Context, bwrap string, sb func(sceneDir, workDir string) Sandbox, run []string, ok func(out []byte) bool) error {
	root, err := os.MkdirTemp("", "renderswarm-sandbox-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	scene, work, canary := filepath.Join(root, "scene"), filepath.Join(root, "work"), filepath.Join(root, "canary")
	for _, d := range []string{scene, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	for _, f := range []string{filepath.Join(scene, "scene-file"), canary} {
		if err := os.WriteFile(f, []byte("renderswarm"), 0o644); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	box := sb(scene, work)
	runIn := func(argv ...string) ([]byte, error) {
		argv = append(box.Args(bwrap), argv...)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + work, "TMPDIR=" + work, "LANG=C.UTF-8", "LC_ALL=C.UTF-8"}
		cmd.Dir = work
		return cmd.CombinedOutput()
	}
	out, err := runIn("/bin/sh", "-c", probeScript, "sh", canary, scene, work)
	if err != nil || !strings.Contains(string(out), sandboxOK) {
		msg := LastLine(string(out))
		if msg == "" && err != nil {
			msg = err.Error()
		}
		if SandboxFailed(string(out)) {
			return fmt.Errorf("bubblewrap does not work here: %s (%w)", msg, ErrSandboxStart)
		}
		return fmt.Errorf("bubblewrap does not work here: %s", msg)
	}
	if _, err := os.Stat(filepath.Join(work, "probe")); err != nil {
		return errors.New("bubblewrap does not work here: a write in the sandbox's work directory did not arrive")
	}
	if _, err := os.Stat(filepath.Join(scene, "probe")); err == nil {
		return errors.New("bubblewrap does not work here: the scene directory was written")
	}
	out, err = runIn(run...)
	if err != nil || !ok(out) {
		msg := LastLine(string(out))
		if msg == "" && err != nil {
			msg = err.Error()
		}
		if SandboxFailed(string(out)) {
			return fmt.Errorf("%s does not run in the sandbox: %s (%w)", filepath.Base(run[0]), msg, ErrSandboxStart)
		}
		return fmt.Errorf("%s does not run in the sandbox: %s", filepath.Base(run[0]), msg)
	}
	return nil
}

// FindSandbox finds bubblewrap and checks with ProbeSandbox that it works
// for a renderer here (probing again, up to SandboxTries, when bubblewrap
// failed to start); it returns bwrap's path, or "" and why not.
func FindSandbox(ctx context.Context, sb func(sceneDir, workDir string) Sandbox, run []string, ok func([]byte) bool) (string, string) {
	if !sandboxOS {
		return "", "bubblewrap sandboxes are Linux-only"
	}
	bw, err := exec.LookPath("bwrap")
	if err != nil {
		return "", "bubblewrap (bwrap) is not installed"
	}
	if _, err := RetrySandboxStart(ctx, func() (struct{}, error) {
		return struct{}{}, ProbeSandbox(ctx, bw, sb, run, ok)
	}); err != nil {
		return "", err.Error()
	}
	return bw, ""
}

// ErrOutsideScene: a file a scene needs resolves, symlinks included,
// outside the scene's folder. Such a file is never packed or rendered.
var ErrOutsideScene = errors.New("outside the scene folder")

// CheckInside checks that rel (slash-separated, relative to dir) names a
// path that, with every symlink resolved, lies inside dir (itself
// resolved); a path that does not exist passes (its absence is another
// error). The error wraps ErrSceneInvalid and ErrOutsideScene and names
// rel.
func CheckInside(dir, rel string) error {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return fmt.Errorf("%w: %s: %w", ErrSceneInvalid, rel, ErrOutsideScene)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrSceneInvalid, dir, err)
	}
	real, err := filepath.EvalSymlinks(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrSceneInvalid, rel, err)
	}
	if r, err := filepath.Rel(realDir, real); err != nil || !filepath.IsLocal(r) {
		return fmt.Errorf("%w: %s is a link to %s, %w", ErrSceneInvalid, rel, real, ErrOutsideScene)
	}
	return nil
}
