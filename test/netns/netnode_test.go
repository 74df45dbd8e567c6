package netns

// Nodes in a netbed: a `renderswarm node` process per host namespace, and
// the CLI calls the NAT and partition tests make to it, in that namespace.

import (
	"github.com/renderswarm/renderswarm/examples"

	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nsnode is a `renderswarm node` running in a host namespace.
type nsnode struct {
	t       *testing.T
	host    *nshost
	home    string
	cmd     *exec.Cmd
	log     *syncBuffer
	done    chan struct{}
	started time.Time
	id      string
	addrs   []string
}

// start runs `renderswarm node` in the host's namespace with its default
// listen addresses (TCP and QUIC on port 27491, all interfaces) and
// default GUI address, debug logging, and the given flags; env is added to
// its environment. It waits until the node's API answers.
func (h *nshost) start(t *testing.T, env []string, args ...string) *nsnode {
	t.Helper()
	n := &nsnode{t: t, host: h, home: t.TempDir(), log: &syncBuffer{}, done: make(chan struct{})}
	argv := append([]string{"netns", "exec", h.ns, binary, "--home", n.home, "node", "--log-level", "debug"}, args...)
	n.cmd = exec.Command("ip", argv...)
	n.cmd.Env = append(os.Environ(), env...)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	n.started = time.Now()
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		n.stop()
		path := saveLog(t, h.ns, n.log.String())
		if t.Failed() {
			t.Logf("node %s (%s) log (tail; all of it in %s):\n%s", h.ns, n.id, path, tail(n.log.String(), 40))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if r := n.run(10*time.Second, "id", "--json"); r.code == 0 {
			var id struct {
				PeerID string   `json:"peer_id"`
				Addrs  []string `json:"addrs"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &id); err != nil {
				t.Fatalf("id --json printed %q: %v", r.stdout, err)
			}
			n.id, n.addrs = id.PeerID, id.Addrs
			return n
		}
		select {
		case <-n.done:
			t.Fatalf("node %s exited early: %s", h.name, n.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s did not come up in 30s: %s", h.name, n.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// saveLog writes a node's whole log to $RENDERSWARM_ARTIFACTS, by default
// test-artifacts/netbed/ at the module root, as TEST/NAMESPACE.log (the
// run-unique prefix dropped), and returns the path.
func saveLog(t *testing.T, ns, log string) string {
	dir := os.Getenv("RENDERSWARM_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "test-artifacts")
	}
	dir = filepath.Join(dir, "netbed", strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("keeping node logs: %v", err)
		return ""
	}
	_, name, _ := strings.Cut(ns, "-")
	path := filepath.Join(dir, name+".log")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Logf("keeping node logs: %v", err)
	}
	return path
}

// run runs the CLI against the node, in its namespace, bounded by timeout.
func (n *nsnode) run(timeout time.Duration, args ...string) result {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.host.ns, binary, "--home", n.home}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ctx.Err() != nil {
		n.t.Fatalf("renderswarm %s on %s: still running after %v\nstderr: %s", strings.Join(args, " "), n.host.name, timeout, r.stderr)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		n.t.Fatalf("renderswarm %s on %s: %v", strings.Join(args, " "), n.host.name, err)
	}
	return r
}

// must runs the CLI and fails the test unless it exits 0.
func (n *nsnode) must(timeout time.Duration, args ...string) string {
	n.t.Helper()
	r := n.run(timeout, args...)
	if r.code != 0 {
		n.t.Fatalf("renderswarm %s on %s: exit %d\nstderr: %s", strings.Join(args, " "), n.host.name, r.code, r.stderr)
	}
	return r.stdout
}

// bootstrap is the node's TCP multiaddr on its own address, for --bootstrap.
func (n *nsnode) bootstrap() string {
	n.t.Helper()
	for _, a := range n.addrs {
		if strings.HasPrefix(a, "/ip4/"+n.host.ip+"/tcp/") {
			return a
		}
	}
	n.t.Fatalf("node %s has no TCP address on %s: %v", n.host.name, n.host.ip, n.addrs)
	return ""
}

// stop sends SIGINT and waits for a clean exit (bounded).
func (n *nsnode) stop() {
	select {
	case <-n.done:
		return
	default:
	}
	n.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-n.done:
	case <-time.After(20 * time.Second):
		// SIGQUIT makes the Go runtime print every goroutine to the log.
		n.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-n.done:
		case <-time.After(5 * time.Second):
			n.cmd.Process.Kill()
			<-n.done
		}
		n.t.Errorf("node %s did not stop within 20s of SIGINT (its goroutines are in its log)", n.host.ns)
	}
}

// peerView is one entry of `peers --json`.
type peerView struct {
	PeerID    string   `json:"peer_id"`
	Addrs     []string `json:"addrs"`
	Renderers []string `json:"renderers"`
	State     string   `json:"state"` // "direct" or "relayed"
}

func (n *nsnode) peers() []peerView {
	n.t.Helper()
	var ps []peerView
	out := n.must(20*time.Second, "peers", "--json")
	if err := json.Unmarshal([]byte(out), &ps); err != nil {
		n.t.Fatalf("peers --json on %s printed %q: %v", n.host.name, out, err)
	}
	return ps
}

// peer is what `peers --json` says about other, if connected.
func (n *nsnode) peer(other *nsnode) (peerView, bool) {
	for _, p := range n.peers() {
		if p.PeerID == other.id {
			return p, true
		}
	}
	return peerView{}, false
}

// currentAddrs is `id --json`'s addrs now (relay addresses come and go).
func (n *nsnode) currentAddrs() []string {
	n.t.Helper()
	var id struct {
		Addrs []string `json:"addrs"`
	}
	out := n.must(20*time.Second, "id", "--json")
	if err := json.Unmarshal([]byte(out), &id); err != nil {
		n.t.Fatalf("id --json on %s printed %q: %v", n.host.name, out, err)
	}
	return id.Addrs
}

func (n *nsnode) status(job string) jobStatus {
	n.t.Helper()
	var st jobStatus
	out := n.must(20*time.Second, "status", job, "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		n.t.Fatalf("status --json on %s printed %q: %v", n.host.name, out, err)
	}
	return st
}

func (n *nsnode) credits() creditsReport {
	n.t.Helper()
	var r creditsReport
	out := n.must(20*time.Second, "credits", "--json")
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		n.t.Fatalf("credits --json on %s printed %q: %v", n.host.name, out, err)
	}
	return r
}

// publish publishes scene with args and returns the job ID.
func (n *nsnode) publish(scene string, args ...string) string {
	n.t.Helper()
	out := n.must(time.Minute, append([]string{"publish", scene}, args...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// sceneCopy copies the built-in demo scene (and its mesh) into a new
// directory with a comment naming tag, so each copy is a new scene asset
// with its own CID: no volunteer has it cached.
func sceneCopy(t *testing.T, tag string) string {
	t.Helper()
	dir := t.TempDir()
	if err := examples.WriteBuiltin(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, examples.DemoScene)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("\n# copy: " + tag + "\n"); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitUntil polls cond every 200 ms until it holds, failing after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return time.Since(start)
}
