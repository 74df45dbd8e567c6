//go:build linux

// Package benchproc runs renderswarm node processes for the benchmark
// harnesses under bench/: each node its own home on 127.0.0.1, its own
// process group, stopped with SIGINT then SIGKILL.
package benchproc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/renderswarm/renderswarm/gui"
)

// stopGrace is how long a child gets between SIGINT and SIGKILL.
const stopGrace = 10 * time.Second

// Run runs one command in its own process group, bounded by timeout and
// ctx: when either ends first, the group gets SIGINT, then SIGKILL after
// stopGrace. It returns stdout and the wall time.
func Run(ctx context.Context, timeout time.Duration, dir string, env []string, name string, args ...string) (string, time.Duration, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return "", 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var err error
	var why string
	select {
	case err = <-done:
	case <-timer.C:
		why = fmt.Sprintf("still running after %v", timeout)
	case <-ctx.Done():
		why = "interrupted"
	}
	took := time.Since(start)
	if why != "" {
		StopGroup(cmd.Process.Pid, done)
		return out.String(), took, fmt.Errorf("%s %s: %s", filepath.Base(name), short(args), why)
	}
	if err != nil {
		return out.String(), took, fmt.Errorf("%s %s: %v: %s", filepath.Base(name), short(args), err, LastLines(errb.String()+out.String(), 3))
	}
	return out.String(), took, nil
}

// StopGroup sends SIGINT to process group pid, then SIGKILL after
// stopGrace unless done reports the leader's exit first.
func StopGroup(pid int, done <-chan error) {
	syscall.Kill(-pid, syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(stopGrace):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
	// Renderers the leader left behind in its group.
	syscall.Kill(-pid, syscall.SIGKILL)
}

func short(args []string) string {
	s := strings.Join(args, " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func LastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, " | ")
}

// node is one `renderswarm node` process with its own home, on loopback.
type Node struct {
	Bin, Home string
	cmd       *exec.Cmd
	done      chan error
	LogPath   string
	ID        gui.ID
}

// StartTimeout bounds how long StartNode waits for a node to answer (it
// measures the machine's speed first, which takes longer when many nodes
// share the cores).
var StartTimeout = 60 * time.Second

// StartNode starts a node on 127.0.0.1 with a fresh home under dir (env
// added to its environment) and waits (bounded) until its API answers.
func StartNode(ctx context.Context, bin, dir, name string, env []string, extra ...string) (*Node, error) {
	home := filepath.Join(dir, name)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	args := append([]string{"--home", home, "node",
		"--listen", "/ip4/127.0.0.1/tcp/0", "--gui", "127.0.0.1:0", "--no-mdns", "--log-level", "warn"}, extra...)
	cmd := exec.Command(bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own group, so a terminal's ^C reaches only this program, which
	// stops the nodes in order; killed if this program dies without that.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &Node{Bin: bin, Home: home, cmd: cmd, done: make(chan error, 1), LogPath: logPath}
	go func() { n.done <- cmd.Wait() }()
	deadline := time.Now().Add(StartTimeout)
	for {
		out, _, err := n.CLI(ctx, 15*time.Second, "id", "--json")
		if err == nil {
			if err := json.Unmarshal([]byte(out), &n.ID); err != nil {
				n.Stop()
				return nil, fmt.Errorf("id --json printed %q: %v", out, err)
			}
			return n, nil
		}
		select {
		case err := <-n.done:
			n.done <- err
			return nil, fmt.Errorf("node %s exited: %v: %s", name, err, n.LogTail())
		case <-ctx.Done():
			n.Stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.Stop()
			return nil, fmt.Errorf("node %s did not answer within %v: %s", name, StartTimeout, n.LogTail())
		}
	}
}

// CLI runs a renderswarm subcommand against the node's home.
func (n *Node) CLI(ctx context.Context, timeout time.Duration, args ...string) (string, time.Duration, error) {
	return Run(ctx, timeout, "", os.Environ(), n.Bin, append([]string{"--home", n.Home}, args...)...)
}

func (n *Node) TCPAddr() (string, error) {
	for _, a := range n.ID.Addrs {
		if strings.Contains(a, "/tcp/") {
			return a, nil
		}
	}
	return "", fmt.Errorf("node has no TCP address: %v", n.ID.Addrs)
}

// Pid is the node's process ID.
func (n *Node) Pid() int { return n.cmd.Process.Pid }

// Stop sends SIGINT to the node's process group, then SIGKILL after
// stopGrace.
func (n *Node) Stop() {
	select {
	case err := <-n.done:
		n.done <- err
		return
	default:
	}
	StopGroup(n.cmd.Process.Pid, n.done)
}

func (n *Node) LogTail() string {
	b, _ := os.ReadFile(n.LogPath)
	return LastLines(string(b), 5)
}

// WaitPeers waits (bounded) until the node sees want peers advertising
// renderer.
func (n *Node) WaitPeers(ctx context.Context, renderer string, want int) error {
	deadline := time.Now().Add(90 * time.Second)
	got := 0
	for {
		out, _, err := n.CLI(ctx, 15*time.Second, "peers", "--json")
		if err == nil {
			var peers []gui.Peer
			if json.Unmarshal([]byte(out), &peers) == nil {
				got = 0
				for _, p := range peers {
					for _, r := range p.Renderers {
						if strings.HasPrefix(r, renderer+" ") {
							got++
							break
						}
					}
				}
				if got >= want {
					return nil
				}
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after 90s the publisher sees %d volunteers with %s, want %d", got, renderer, want)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// Grid is a publisher that renders nothing and its volunteers, each a
// separate process with its own home.
type Grid struct {
	Pub  *Node
	Vols []*Node
}

// StartGrid starts the publisher, then n volunteers (each rendering with
// cpus cores; 0: all) bootstrapped from it, and waits until the publisher
// sees all of them offering renderer.
func StartGrid(ctx context.Context, bin, dir, renderer string, n, cpus int, env func(name string) []string) (*Grid, error) {
	if env == nil {
		env = func(string) []string { return nil }
	}
	g := &Grid{}
	pub, err := StartNode(ctx, bin, dir, "publisher", env("publisher"), "--no-volunteer")
	if err != nil {
		return nil, err
	}
	g.Pub = pub
	boot, err := pub.TCPAddr()
	if err != nil {
		g.Stop()
		return nil, err
	}
	for i := range n {
		extra := []string{"--bootstrap", boot}
		if cpus > 0 {
			extra = append(extra, "--cpus", strconv.Itoa(cpus))
		}
		name := fmt.Sprintf("volunteer%d", i+1)
		v, err := StartNode(ctx, bin, dir, name, env(name), extra...)
		if err != nil {
			g.Stop()
			return nil, err
		}
		g.Vols = append(g.Vols, v)
	}
	if err := pub.WaitPeers(ctx, renderer, n); err != nil {
		g.Stop()
		return nil, err
	}
	return g, nil
}

// Stop stops the volunteers, then the publisher (SIGINT, then SIGKILL).
func (g *Grid) Stop() {
	for _, v := range g.Vols {
		v.Stop()
	}
	if g.Pub != nil {
		g.Pub.Stop()
	}
}
