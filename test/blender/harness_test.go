package blender

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the renderswarm binary built once for the package's tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "renderswarm-blender-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "renderswarm")
	build := exec.Command("go", "build", "-o", binary, "../../cmd/renderswarm")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building renderswarm:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireBlender skips t under -short, or when Blender or a working
// bubblewrap (which volunteers need for strangers' scenes) is missing,
// unless RENDERSWARM_REQUIRE_RENDERERS=1, when it fails.
func requireBlender(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test with Blender and several node processes; skipped with -short")
	}
	require := os.Getenv("RENDERSWARM_REQUIRE_RENDERERS") == "1"
	for _, prog := range []string{"blender", "bwrap"} {
		if _, err := exec.LookPath(prog); err != nil {
			if require {
				t.Fatalf("%s is required (RENDERSWARM_REQUIRE_RENDERERS=1) but not on PATH: %v", prog, err)
			}
			t.Skipf("%s is not on PATH (apt-get install blender bubblewrap); set RENDERSWARM_REQUIRE_RENDERERS=1 to fail instead", prog)
		}
	}
	if out, err := exec.Command("bwrap", "--unshare-all", "--ro-bind", "/", "/", "true").CombinedOutput(); err != nil {
		if require {
			t.Fatalf("bubblewrap cannot create its sandbox here and RENDERSWARM_REQUIRE_RENDERERS=1: %v %s", err, out)
		}
		t.Skipf("bubblewrap cannot create its sandbox here (%v %s); set RENDERSWARM_REQUIRE_RENDERERS=1 to fail instead", err, out)
	}
}

// result is what one CLI invocation did.
type result struct {
	code           int
	stdout, stderr string
}

// run runs the CLI against home and waits (bounded) for it.
func run(t *testing.T, home string, timeout time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"--home", home}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ctx.Err() != nil {
		t.Fatalf("renderswarm %s: still running after %v\nstderr: %s", strings.Join(args, " "), timeout, r.stderr)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("renderswarm %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustRun runs the CLI and fails the test unless it exits 0.
func mustRun(t *testing.T, home string, timeout time.Duration, args ...string) string {
	t.Helper()
	r := run(t, home, timeout, args...)
	if r.code != 0 {
		t.Fatalf("renderswarm %s: exit %d\nstderr: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// proc is a running `renderswarm node`.
type proc struct {
	t     *testing.T
	home  string
	cmd   *exec.Cmd
	log   *syncBuffer
	done  chan struct{}
	id    string
	addrs []string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startNode runs a node process on a fresh home, listening on loopback
// only, and waits until its API answers.
func startNode(t *testing.T, extra ...string) *proc {
	t.Helper()
	return startNodeEnv(t, nil, extra...)
}

// startNodeEnv is startNode with env added to the node's environment.
func startNodeEnv(t *testing.T, env []string, extra ...string) *proc {
	t.Helper()
	home := t.TempDir()
	args := append([]string{"--home", home, "node",
		"--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1",
		"--no-mdns", "--gui", "127.0.0.1:0", "--log-level", "debug"}, extra...)
	cmd := exec.Command(binary, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	log := new(syncBuffer)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, home: home, cmd: cmd, log: log, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("node %s log (tail):\n%s", p.id, tail(log.String(), 40))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := run(t, home, 10*time.Second, "id", "--json")
		if r.code == 0 {
			var id struct {
				PeerID string   `json:"peer_id"`
				Addrs  []string `json:"addrs"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &id); err != nil {
				t.Fatalf("id --json printed %q: %v", r.stdout, err)
			}
			p.id, p.addrs = id.PeerID, id.Addrs
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("node exited early: %s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("node did not come up in 30s: %s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// swarm starts a publisher that does not volunteer and n volunteers.
func swarm(t *testing.T, volunteers int) (*proc, []*proc) {
	pub := startNode(t, "--no-volunteer")
	var vs []*proc
	for range volunteers {
		vs = append(vs, startNode(t, "--bootstrap", pub.tcpAddr(), "--cpus", "1"))
	}
	return pub, vs
}

func (p *proc) tcpAddr() string {
	for _, a := range p.addrs {
		if strings.Contains(a, "/tcp/") {
			return a
		}
	}
	p.t.Fatalf("node %s has no TCP address: %v", p.id, p.addrs)
	return ""
}

// stop sends SIGINT and waits for a clean exit (bounded).
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Errorf("node %s did not stop within 20s of SIGINT", p.id)
	}
}

// waitVolunteers waits (bounded) until pub sees n peers advertising
// Blender.
func waitVolunteers(t *testing.T, pub *proc, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var peers []struct {
			Renderers []string `json:"renderers"`
		}
		json.Unmarshal([]byte(mustRun(t, pub.home, 20*time.Second, "peers", "--json")), &peers)
		got := 0
		for _, p := range peers {
			if slices.ContainsFunc(p.Renderers, func(r string) bool { return strings.HasPrefix(r, "blender ") }) {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s %d peers advertise blender, want %d: %+v", got, n, peers)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// renderLocal runs `renderswarm render` with a fresh home into a new
// directory and returns it.
func renderLocal(t *testing.T, scene string, args ...string) string {
	t.Helper()
	out := t.TempDir()
	mustRun(t, t.TempDir(), 3*time.Minute, append([]string{"render", scene, "-o", out}, args...)...)
	return out
}

func frameName(f int) string { return fmt.Sprintf("frame_%04d.png", f) }

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

func decodePixels(t *testing.T, path string) *image.NRGBA {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := image.NewNRGBA(img.Bounds())
	draw.Draw(out, out.Bounds(), img, img.Bounds().Min, draw.Src)
	return out
}

// samePixels fails t unless the PNGs at a and b decode to the same pixels.
func samePixels(t *testing.T, a, b, what string) *image.NRGBA {
	t.Helper()
	ia, ib := decodePixels(t, a), decodePixels(t, b)
	if ia.Bounds() != ib.Bounds() {
		t.Errorf("%s: %v vs %v", what, ia.Bounds(), ib.Bounds())
		return ia
	}
	n := 0
	for i := 0; i+3 < len(ia.Pix); i += 4 {
		if string(ia.Pix[i:i+4]) != string(ib.Pix[i:i+4]) {
			n++
		}
	}
	if n > 0 {
		t.Errorf("%s: %d of %d pixels differ", what, n, ia.Bounds().Dx()*ia.Bounds().Dy())
	}
	return ia
}

// runBlender runs Blender headless with a Python file and JSON parameters,
// bounded, and returns its output; it fails t unless the script printed
// want.
func runBlender(t *testing.T, env []string, d time.Duration, want string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, "blender", append([]string{"-b", "--factory-startup", "--python-exit-code", "1"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), want) {
		t.Fatalf("blender %s: %v (want %q in its output)\n%s", strings.Join(args, " "), err, want, tail(string(out), 60))
	}
	return string(out)
}
