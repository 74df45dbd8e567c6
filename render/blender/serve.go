package blender

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/renderswarm/renderswarm/render"
)

// Chunked renders. Starting Blender and loading a scene costs about a
// second here (Debian's 3.4.1 on 2 cores, a small scene) — as much as a
// short frame. So a Backend keeps the Blender that rendered a task
// running, the scene loaded, and renders the next task of the same scene
// (same file, folder, threads and limits) in it: the frames a volunteer
// renders one after another for a job, and the publisher's crop checks of
// one job, share one process, as Flamenco's chunks do with -s/-e/-a. Every
// task is still rendered, checked and reported on its own (its own lease,
// commitment and verification); only the process is shared.
//
// How many tasks one process renders (its chunk) follows the measured
// time per task: as many as fit in chunkTarget of rendering, at most
// maxChunk, so a process is renewed about every two minutes whatever the
// frames cost (bounding what a long-lived Blender may accumulate), and a
// scene whose frames take minutes gets a fresh Blender per frame, where
// the start-up no longer matters. A process nobody asks for within
// idleTimeout exits. A task that fails, is cancelled or runs over a limit
// takes its process with it.
const (
	chunkTarget = 2 * time.Minute
	maxChunk    = 64
	idleTimeout = 20 * time.Second
)

// chunkSize is how many tasks a process whose tasks took perTask each
// renders before it is renewed.
func chunkSize(perTask time.Duration) int {
	if perTask <= 0 {
		return maxChunk
	}
	return int(max(1, min(maxChunk, math.Floor(float64(chunkTarget)/float64(perTask)))))
}

// serverKey is what a process is bound to: Blender is started with the
// scene, its sandbox and its limits.
type serverKey struct {
	blend, sceneDir string
	memory, output  int64
	// The .blend as it was when the process loaded it: an edited file
	// gets a new process.
	modTime time.Time
	size    int64
}

// server is one Blender with a scene loaded, rendering tasks sent on its
// stdin.
type server struct {
	key     serverKey
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan string // its output, closed when it ends
	work    string      // its only writable directory
	mk      markers
	over    func() bool // whether it was killed for writing too much
	done    int         // tasks rendered
	perTask time.Duration
	next    int    // the next request's id
	first   string // the first line of its output
	last    string
	idle    *time.Timer

	wait     func() error // cmd.Wait, once
	stopOnce sync.Once
}

// pool holds the idle servers of a Backend.
type pool struct {
	mu     sync.Mutex
	idle   map[serverKey][]*server
	starts atomic.Int64 // processes started, for tests
}

// take returns an idle server for key, or nil.
func (p *pool) take(key serverKey) *server {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.idle[key]
	for len(list) > 0 {
		s := list[len(list)-1]
		list = list[:len(list)-1]
		p.idle[key] = list
		if s.idle.Stop() { // not already being stopped for idleness
			return s
		}
	}
	return nil
}

// put keeps s for the next task of its scene, until idleTimeout.
func (p *pool) put(s *server) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.idle == nil {
		p.idle = map[serverKey][]*server{}
	}
	p.idle[s.key] = append(p.idle[s.key], s)
	s.idle = time.AfterFunc(idleTimeout, func() {
		p.mu.Lock()
		list := p.idle[s.key]
		for i, x := range list {
			if x == s {
				p.idle[s.key] = append(list[:i], list[i+1:]...)
				break
			}
		}
		p.mu.Unlock()
		s.stop()
	})
}

// closeAll stops every idle server.
func (p *pool) closeAll() {
	p.mu.Lock()
	var all []*server
	for _, list := range p.idle {
		for _, s := range list {
			if s.idle.Stop() {
				all = append(all, s)
			}
		}
	}
	p.idle = nil
	p.mu.Unlock()
	for _, s := range all {
		s.stop()
	}
}

// Close stops the Blender processes kept for further tasks.
func (b *Backend) Close() error {
	b.servers.closeAll()
	return nil
}

// startServer starts Blender on key's scene and waits until it is ready.
func (b *Backend) startServer(ctx context.Context, key serverKey) (*server, error) {
	work, err := os.MkdirTemp("", "renderswarm-blender-serve-")
	if err != nil {
		return nil, err
	}
	b.servers.starts.Add(1)
	s := &server{key: key, work: work, mk: newMarkers(), lines: make(chan string, 64)}
	spec := runSpec{blend: key.blend, sceneDir: key.sceneDir, work: work, script: s.mk.serveScript(),
		params: map[string]any{"blend": key.blend}, mk: s.mk, memory: key.memory, output: key.output}
	args, err := blenderArgs(spec)
	if err != nil {
		os.RemoveAll(work)
		return nil, err
	}
	argv := append([]string{b.program}, args...)
	if b.bwrap != "" {
		argv = append(sandbox(b.program, spec).Args(b.bwrap), argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = minimalEnv(work)
	cmd.Dir = work
	setProcessGroup(cmd)
	pr, pw, err := os.Pipe()
	if err != nil {
		os.RemoveAll(work)
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	stdin, err := render.StartFed(cmd, render.Limits{Memory: key.memory, FileSize: key.output})
	if err != nil {
		pw.Close()
		pr.Close()
		os.RemoveAll(work)
		return nil, fmt.Errorf("%w: starting %s: %v", render.ErrUnavailable, argv[0], err)
	}
	pw.Close()
	s.cmd, s.stdin = cmd, stdin
	s.wait = sync.OnceValue(cmd.Wait)
	s.over = render.WatchSize(work, key.output, func() { killGroup(cmd) })
	go func() {
		defer close(s.lines)
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 16<<20)
		sc.Split(scanLines)
		for sc.Scan() {
			s.lines <- strings.TrimRight(sc.Text(), " \t")
		}
		io.Copy(io.Discard, pr)
	}()
	for {
		l, err := s.line(ctx)
		if err != nil {
			s.stop()
			return nil, err
		}
		if l == s.mk.ready {
			return s, nil
		}
	}
}

// line returns the server's next output line; when the process ended,
// an error saying why (a scene the script refused wraps
// render.ErrSceneInvalid); when ctx ends first, ctx's error (the caller
// stops the server).
func (s *server) line(ctx context.Context) (string, error) {
	select {
	case l, ok := <-s.lines:
		if !ok {
			return "", s.exitError()
		}
		if rest, ok := strings.CutPrefix(l, s.mk.err); ok {
			s.stop()
			return "", fmt.Errorf("%w: %s: %s", render.ErrSceneInvalid, filepath.Base(s.key.blend), unquote(rest))
		}
		if rest, ok := strings.CutPrefix(l, s.mk.fail); ok {
			s.stop()
			msg := unquote(rest)
			if outOfMemory(msg) {
				return "", fmt.Errorf("%w: blender ran out of memory under its limit of %s: %s", render.ErrTaskInvalid, render.Size(s.key.memory), msg)
			}
			return "", fmt.Errorf("blender could not render: %s", msg)
		}
		if s.first == "" {
			s.first = l
		}
		crashLog := strings.HasPrefix(l, "Writing: ") && strings.HasSuffix(l, ".crash.txt")
		if l != "" && l != "Blender quit" && !crashLog && !strings.HasPrefix(l, "RENDERSWARM_") {
			s.last = l
		}
		return l, nil
	case <-ctx.Done():
		return "", fmt.Errorf("blender: %w", ctx.Err())
	}
}

// exitError waits for the ended process and says why it ended.
func (s *server) exitError() error {
	err := s.wait()
	os.RemoveAll(s.work)
	switch {
	case s.over() || render.FileTooLarge(err):
		return fmt.Errorf("%w: blender wrote more than its output limit of %s", render.ErrTaskInvalid, render.Size(s.key.output))
	case err != nil && render.SandboxFailed(s.first):
		return fmt.Errorf("blender: %w: %s", render.ErrSandboxStart, s.last)
	case outOfMemory(s.last):
		return fmt.Errorf("%w: blender ran out of memory under its limit of %s: %s", render.ErrTaskInvalid, render.Size(s.key.memory), s.last)
	case err != nil:
		return fmt.Errorf("blender %s (memory limit %s): %s", render.ExitReason(err), render.Size(s.key.memory), s.last)
	}
	return fmt.Errorf("blender ended before rendering: %s", s.last)
}

// stop ends the process (at once: it may be rendering) and removes its
// directory.
func (s *server) stop() {
	s.stopOnce.Do(func() {
		s.stdin.Close()
		killGroup(s.cmd)
		go func() {
			for range s.lines {
			}
			s.wait()
			os.RemoveAll(s.work)
		}()
	})
}

// serveResult is what the server says of a finished task.
type serveResult struct {
	ID  int     `json:"id"`
	CPU float64 `json:"cpu"`
}

// renderIn renders one task in s, whose parameters are params (the render
// script's, "out" in s's directory), reporting progress; it returns the
// processor time the task took.
func (s *server) renderIn(ctx context.Context, params map[string]any, progress func(render.Progress)) (time.Duration, error) {
	s.next++
	params["id"] = s.next
	req, err := json.Marshal(params)
	if err != nil {
		return 0, err
	}
	if _, err := s.stdin.Write(append(req, '\n')); err != nil {
		return 0, fmt.Errorf("blender stopped taking tasks: %w", errors.Join(err, s.exitError()))
	}
	var p progressParser
	for {
		l, err := s.line(ctx)
		if err != nil {
			return 0, err
		}
		if rest, ok := strings.CutPrefix(l, s.mk.done); ok {
			var r serveResult
			if json.Unmarshal([]byte(rest), &r) != nil || r.ID != s.next {
				return 0, fmt.Errorf("blender answered %q to task %d", rest, s.next)
			}
			return time.Duration(r.CPU * float64(time.Second)), nil
		}
		if f, msg, ok := p.parse(l); ok {
			progress(render.Progress{Fraction: f, Message: msg})
		}
	}
}

// renderServed renders t in a kept Blender (starting one when none is
// idle), moves its output files from the server's directory into work
// (t's output directory's private directory) and keeps the server for
// the next task while its chunk lasts.
func (b *Backend) renderServed(ctx context.Context, key serverKey, params map[string]any, work string, progress func(render.Progress)) (time.Duration, error) {
	s := b.servers.take(key)
	if s == nil {
		var err error
		if s, err = render.RetrySandboxStart(ctx, func() (*server, error) { return b.startServer(ctx, key) }); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	params["out"] = filepath.Join(s.work, "frame")
	cpu, err := s.renderIn(ctx, params, progress)
	if err != nil {
		s.stop()
		return 0, err
	}
	took := time.Since(start)
	for _, ext := range append([]string{"png"}, extrasOf(params)...) {
		if err := moveFile(filepath.Join(s.work, "frame."+ext), filepath.Join(work, "frame."+ext)); err != nil && ext == "png" {
			s.stop()
			return 0, fmt.Errorf("no output image: %w", err)
		}
	}
	s.done++
	if s.perTask == 0 {
		s.perTask = took
	} else {
		s.perTask = (s.perTask*3 + took) / 4
	}
	if s.done >= chunkSize(s.perTask) {
		s.stop()
	} else {
		b.servers.put(s)
	}
	return cpu, nil
}

func extrasOf(params map[string]any) []string {
	e, _ := params["extras"].([]string)
	return e
}

// moveFile renames src to dst, copying when they are on different file
// systems (the server's directory is in the system's temporary folder).
func moveFile(src, dst string) error {
	if err := os.Rename(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	os.Remove(src)
	return out.Close()
}
