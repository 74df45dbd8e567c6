package test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the renderswarm binary built once for the package's tests.
//
// The swarms of the end-to-end tests run in parallel with each other
// (t.Parallel, four at a time unless -parallel says otherwise), each with
// its own homes and ports: they wait on the network and on each other far
// more than they compute, and one after another they would pass go test's
// ten minutes on two cores. The web app's, the service's and the
// LAN-discovery tests run alone.
var binary string

func TestMain(m *testing.M) {
	// Four swarms at a time unless -parallel says otherwise: they wait on
	// the network and on each other far more than they compute.
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		flag.Set("test.parallel", "4")
	}
	dir, err := os.MkdirTemp("", "renderswarm-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "renderswarm")
	build := exec.Command("go", "build", "-o", binary, "../cmd/renderswarm")
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
	gui   string // the web app's URL
}

// syncBuffer is a node's output, read while the node writes it.
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

// waitLogged waits (bounded) until the node has logged a line holding
// every one of parts.
func (p *proc) waitLogged(d time.Duration, parts ...string) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for {
		for _, l := range strings.Split(p.log.String(), "\n") {
			found := true
			for _, part := range parts {
				found = found && strings.Contains(l, part)
			}
			if found {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("node %s did not log %q within %v", p.id, parts, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startNode runs a node process on a fresh (or given) home, listening on
// loopback only, and waits until its API answers.
func startNode(t *testing.T, home string, extra ...string) *proc {
	t.Helper()
	return startNodeEnv(t, home, nil, extra...)
}

// startNodeEnv is startNode with env added to the node's environment (later
// entries win, e.g. a PATH putting a wrapper first).
func startNodeEnv(t *testing.T, home string, env []string, extra ...string) *proc {
	t.Helper()
	if home == "" {
		home = t.TempDir()
	}
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
				GUI    string   `json:"gui"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &id); err != nil {
				t.Fatalf("id --json printed %q: %v", r.stdout, err)
			}
			p.id, p.addrs, p.gui = id.PeerID, id.Addrs, id.GUI
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

// tcpAddr is the node's full TCP multiaddr, for --bootstrap.
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

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

func skipIfShort(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with several node processes; skipped with -short")
	}
	_ = runtime.NumCPU
}
