package blender

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/renderswarm/renderswarm/render"
)

// runSpec is one Blender invocation.
type runSpec struct {
	blend    string         // absolute path of the .blend to open
	sceneDir string         // absolute; mounted read-only in the sandbox
	work     string         // absolute; the only writable directory (HOME, TMPDIR)
	script   string         // Python passed with --python-expr
	params   map[string]any // JSON after "--"
	mk       markers        // the script's markers
	cpu      *time.Duration // if set, receives the CPU time Blender used
	memory   int64          // address-space limit of Blender, bytes
	output   int64          // most Blender may write into work, bytes
}

// exitPythonError is the exit code Blender returns when our script raises.
const exitPythonError = 4

// blenderArgs is the command line: background, factory settings, no
// scripts from the file, then our script.
func blenderArgs(s runSpec) ([]string, error) {
	p, err := json.Marshal(s.params)
	if err != nil {
		return nil, err
	}
	return []string{
		"-b", "--factory-startup", "--disable-autoexec",
		"--python-exit-code", fmt.Sprint(exitPythonError),
		s.blend,
		"--python-expr", s.script,
		"--", string(p),
	}, nil
}

// minimalEnv is the environment Blender gets: nothing from ours (no
// PYTHONPATH, BLENDER_USER_SCRIPTS or the like), HOME and TMPDIR in the
// work directory.
func minimalEnv(work string) []string {
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + work, "TMPDIR=" + work, "TEMP=" + work, "TMP=" + work,
		"LANG=C.UTF-8", "LC_ALL=C.UTF-8",
	}
	if runtime.GOOS == "windows" {
		for _, k := range []string{"SystemRoot", "SYSTEMROOT", "PATH", "Path"} {
			if v, ok := os.LookupEnv(k); ok {
				env = append(env, k+"="+v)
			}
		}
	}
	return env
}

// run runs Blender for s, calling line (never concurrently) for every line
// of its combined output. It returns an error wrapping ctx.Err() when ctx
// ends first (the whole process group is killed), one wrapping
// render.ErrSceneInvalid when the script rejected the scene, and one with
// Blender's last output line when Blender failed. A run whose sandbox
// failed to start is run again (render.SandboxTries).
func (b *Backend) run(ctx context.Context, s runSpec, line func(string)) error {
	_, err := render.RetrySandboxStart(ctx, func() (struct{}, error) { return struct{}{}, b.runOnce(ctx, s, line) })
	return err
}

func (b *Backend) runOnce(ctx context.Context, s runSpec, line func(string)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	args, err := blenderArgs(s)
	if err != nil {
		return err
	}
	argv := append([]string{b.program}, args...)
	if b.bwrap != "" {
		argv = append(sandbox(b.program, s).Args(b.bwrap), argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = minimalEnv(s.work)
	cmd.Dir = s.work
	setProcessGroup(cmd)
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := render.Start(cmd, render.Limits{Memory: s.memory, FileSize: s.output}); err != nil {
		pw.Close()
		return fmt.Errorf("%w: starting %s: %v", render.ErrUnavailable, argv[0], err)
	}
	pw.Close()
	overflowed := render.WatchSize(s.work, s.output, func() { killGroup(cmd) })

	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 16<<20)
		sc.Split(scanLines)
		for sc.Scan() {
			lines <- sc.Text()
		}
		io.Copy(io.Discard, pr) // after an overlong line, keep Blender unblocked
	}()

	var first, last, sceneErr, renderErr string
	readBlend := false
	cancelled := false
	doneCh := ctx.Done()
loop:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break loop
			}
			l = strings.TrimRight(l, " \t")
			if first == "" {
				first = l
			}
			if rest, ok := strings.CutPrefix(l, s.mk.err); ok {
				sceneErr = unquote(rest)
				continue
			}
			if rest, ok := strings.CutPrefix(l, s.mk.fail); ok {
				renderErr = unquote(rest)
				continue
			}
			if strings.HasPrefix(l, "Read blend:") {
				readBlend = true
			}
			crashLog := strings.HasPrefix(l, "Writing: ") && strings.HasSuffix(l, ".crash.txt")
			if l != "" && l != "Blender quit" && !crashLog && !strings.HasPrefix(l, "RENDERSWARM_") {
				last = l
			}
			if !cancelled {
				line(l)
			}
		case <-doneCh:
			cancelled, doneCh = true, nil
			killGroup(cmd)
			// Drain what is left; if something outside the group still
			// holds the pipe, stop waiting for it.
			go func() {
				time.Sleep(time.Second)
				pr.Close()
			}()
		}
	}
	waitErr := cmd.Wait()
	over := overflowed()
	if s.cpu != nil && cmd.ProcessState != nil {
		*s.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if cancelled {
		return fmt.Errorf("blender: %w", ctx.Err())
	}
	if over || render.FileTooLarge(waitErr) {
		return fmt.Errorf("%w: blender wrote more than its output limit of %s", render.ErrTaskInvalid, render.Size(s.output))
	}
	if sceneErr != "" {
		return fmt.Errorf("%w: %s: %s", render.ErrSceneInvalid, filepath.Base(s.blend), sceneErr)
	}
	if renderErr != "" {
		if outOfMemory(renderErr) || outOfMemory(last) {
			return fmt.Errorf("%w: blender ran out of memory under its limit of %s: %s", render.ErrTaskInvalid, render.Size(s.memory), renderErr)
		}
		return fmt.Errorf("blender could not render: %s", renderErr)
	}
	if waitErr != nil && render.SandboxFailed(first) {
		return fmt.Errorf("blender: %w: %s", render.ErrSandboxStart, last)
	}
	if waitErr != nil && !readBlend && strings.Contains(last, s.blend) {
		// Blender refused the file before our script ran, e.g. "Error:
		// File format is not supported in file '...'".
		return fmt.Errorf("%w: %s", render.ErrSceneInvalid, last)
	}
	if waitErr != nil {
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) && ee.ExitCode() == exitPythonError {
			return fmt.Errorf("blender: the renderswarm script failed: %s", last)
		}
		if outOfMemory(last) {
			return fmt.Errorf("%w: blender ran out of memory under its limit of %s: %s", render.ErrTaskInvalid, render.Size(s.memory), last)
		}
		return fmt.Errorf("blender %s (memory limit %s): %s", render.ExitReason(waitErr), render.Size(s.memory), last)
	}
	return nil
}

// outOfMemory reports whether a line of Blender's says an allocation
// failed: what an address-space limit looks like when Blender notices.
func outOfMemory(line string) bool {
	for _, m := range []string{"bad_alloc", "out of memory", "Out of memory", "Malloc returns null", "failed to allocate", "Failed to allocate", "<jemalloc>"} {
		if strings.Contains(line, m) {
			return true
		}
	}
	return false
}

// scanLines splits on \n or \r, so progress lines redrawn in place count.
func scanLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// unquote decodes a marker's JSON string, or returns it as is.
func unquote(s string) string {
	var msg string
	if json.Unmarshal([]byte(s), &msg) != nil {
		return s
	}
	return msg
}
