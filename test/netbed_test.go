package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// netbed is a small internet made of Linux network namespaces, for testing
// nodes behind NAT: one "internet" router namespace, public hosts attached
// to it, and homes, each a router namespace that masquerades a LAN bridge
// behind one public address (no port forwarding, no UPnP) with host
// namespaces on that LAN. Every node runs in a host namespace of its own
// and is driven with `ip netns exec NS renderswarm …` (its API listens on
// 127.0.0.1 inside that namespace).
//
// Addresses. libp2p decides what is public with go-multiaddr's
// manet.IsPublicAddr: RFC 1918, CGNAT (100.64/10) and the documentation
// ranges (192.0.2/24, 198.51.100/24, 203.0.113/24) are not public, and
// AutoNAT, hole punching, the relay service and the WAN DHT ignore such
// addresses. So the internet here is 1.2.0.0/16, globally routable
// space (as in go-libp2p's own hole-punching tests, which use 1.2.0.1 and
// 2.2.0.1): site i gets 1.2.i.0/24, with the internet router at .1 and the
// site at .2, so no two sites share a link (as on the internet, where a
// host's neighbours are not its peers). Every home LAN is 192.168.1.0/24,
// like most home routers, so a peer's private address is the same as
// another home's: a node that dials it reaches its own LAN. These
// addresses exist only inside the test's namespaces, which have no link to
// the machine's own network; nothing is configured in the root namespace.
//
// NATs. coneNAT is iptables MASQUERADE: it keeps the source port when it
// can and uses one mapping for all destinations (endpoint-independent
// mapping); replies are let in only from the address and port a mapping
// was made for, and anything else sent to the router is dropped silently.
// symmetricNAT adds --random-fully: every connection gets its own random
// external port, so the port one peer observes is useless to another
// (checked by TestNetbedNATKinds).
type netbed struct {
	t      *testing.T
	prefix string // namespace names start with it; unique per test
	inet   string // the internet router's namespace
	sites  int    // sites attached so far; numbers their subnets
}

// netbedSeq makes namespace prefixes unique within one test process.
var netbedSeq struct {
	sync.Mutex
	n int
}

type natKind int

const (
	coneNAT natKind = iota
	symmetricNAT
)

// site is a public host, or a home's router and LAN.
type site struct {
	bed     *netbed
	name    string
	ns      string     // the public host's namespace, or the home router's
	uplink  string     // the internet router's interface toward the site
	wanIP   string     // the site's public address
	gateway string     // the internet router's address on the site's link
	hosts   int        // LAN hosts made so far
	link    *lossyLink // the uplink, once impaired
}

// nshost is a namespace one node runs in.
type nshost struct {
	name string
	ns   string
	ip   string // its own address (public, or on its home LAN)
	site *site
}

// requireNetbed skips t unless it can build a netbed (Linux, root, ip and
// iptables); with RENDERSWARM_REQUIRE_RENDERERS=1 (CI) a missing
// prerequisite fails the test instead. It also skips under -short.
func requireNetbed(t *testing.T) {
	t.Helper()
	skipIfShort(t)
	if runtime.GOOS != "linux" {
		netbedMissing(t, "needs Linux network namespaces")
	}
	if os.Geteuid() != 0 {
		netbedMissing(t, "needs root to create network namespaces")
	}
	for _, prog := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(prog); err != nil {
			netbedMissing(t, prog+" is not on PATH (apt-get install iproute2 iptables)")
		}
	}
}

// requireImpairment is requireNetbed for tests that add delay and loss,
// which also need /dev/net/tun (see lossyLink).
func requireImpairment(t *testing.T) {
	t.Helper()
	requireNetbed(t)
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		netbedMissing(t, "no /dev/net/tun for links with delay and loss")
	}
}

func netbedMissing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("RENDERSWARM_REQUIRE_RENDERERS") == "1" {
		t.Fatalf("network-namespace test bed required (RENDERSWARM_REQUIRE_RENDERERS=1): %s", why)
	}
	t.Skipf("network-namespace test bed unavailable: %s", why)
}

// newNetbed makes the internet router namespace. Every namespace of the
// bed is deleted when the test ends, after its nodes stopped.
func newNetbed(t *testing.T) *netbed {
	t.Helper()
	requireNetbed(t)
	removeStaleNetbeds()
	netbedSeq.Lock()
	netbedSeq.n++
	b := &netbed{t: t, prefix: fmt.Sprintf("rsn%dx%d", os.Getpid(), netbedSeq.n)}
	netbedSeq.Unlock()
	// A container without CAP_SYS_ADMIN cannot make namespaces at all.
	if out, err := exec.Command("ip", "netns", "add", b.prefix+"-inet").CombinedOutput(); err != nil {
		netbedMissing(t, fmt.Sprintf("cannot create a network namespace: %v: %s", err, out))
	}
	exec.Command("ip", "netns", "del", b.prefix+"-inet").Run()
	b.inet = b.newNS("inet")
	b.sh(b.inet, "echo 1 > /proc/sys/net/ipv4/ip_forward")
	return b
}

// staleNetbed matches namespaces made by a netbed: rsn<pid>x<n>-<name>.
var staleNetbed = regexp.MustCompile(`^rsn(\d+)x\d+-`)

// removeStaleNetbeds deletes namespaces a crashed test run left behind
// (their process is gone), so they do not accumulate.
func removeStaleNetbeds() {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		m := staleNetbed.FindStringSubmatch(f[0])
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		exec.Command("ip", "netns", "del", f[0]).Run()
	}
}

// newNS makes a namespace with its loopback up; the test deletes it at the
// end (processes in it must be stopped by then: cleanups run in reverse,
// so stop nodes in cleanups registered later).
func (b *netbed) newNS(name string) string {
	b.t.Helper()
	ns := b.prefix + "-" + name
	b.ip("netns", "add", ns)
	b.t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	b.ip("-n", ns, "link", "set", "lo", "up")
	return ns
}

// ip runs ip(8) and fails the test on error.
func (b *netbed) ip(args ...string) {
	b.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		b.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// sh runs a shell command inside namespace ns.
func (b *netbed) sh(ns, script string) {
	b.t.Helper()
	if out, err := exec.Command("ip", "netns", "exec", ns, "sh", "-ec", script).CombinedOutput(); err != nil {
		b.t.Fatalf("in %s: %s: %v: %s", ns, script, err, out)
	}
}

// attach links a new namespace to the internet router: site i gets
// 1.2.i.2/24 on its interface "wan", the router 1.2.i.1 on "up<i>".
func (b *netbed) attach(name string) *site {
	b.t.Helper()
	b.sites++
	i := b.sites
	s := &site{bed: b, name: name, ns: b.newNS(name), uplink: fmt.Sprintf("up%d", i),
		wanIP: fmt.Sprintf("1.2.%d.2", i), gateway: fmt.Sprintf("1.2.%d.1", i)}
	b.ip("-n", b.inet, "link", "add", s.uplink, "type", "veth", "peer", "name", "wan", "netns", s.ns)
	b.ip("-n", b.inet, "addr", "add", s.gateway+"/24", "dev", s.uplink)
	b.ip("-n", b.inet, "link", "set", s.uplink, "up")
	b.ip("-n", s.ns, "addr", "add", s.wanIP+"/24", "dev", "wan")
	b.ip("-n", s.ns, "link", "set", "wan", "up")
	b.ip("-n", s.ns, "route", "add", "default", "via", s.gateway)
	return s
}

// publicHost is a host with a public address of its own.
func (b *netbed) publicHost(name string) *nshost {
	b.t.Helper()
	s := b.attach(name)
	return &nshost{name: name, ns: s.ns, ip: s.wanIP, site: s}
}

// home is a NAT router with an empty LAN 192.168.1.0/24 behind it.
func (b *netbed) home(name string, kind natKind) *site {
	b.t.Helper()
	s := b.attach(name)
	b.ip("-n", s.ns, "link", "add", "lan0", "type", "bridge")
	b.ip("-n", s.ns, "addr", "add", "192.168.1.1/24", "dev", "lan0")
	b.ip("-n", s.ns, "link", "set", "lan0", "up")
	masq := "iptables -t nat -A POSTROUTING -o wan -j MASQUERADE"
	if kind == symmetricNAT {
		masq += " --random-fully"
	}
	b.sh(s.ns, "echo 1 > /proc/sys/net/ipv4/ip_forward\n"+masq+"\n"+
		// Unsolicited packets from the internet reach the router itself
		// (nothing is forwarded to the LAN): drop them silently, as home
		// routers do, rather than answer with a reset.
		"iptables -A INPUT -i wan -m conntrack --ctstate NEW,INVALID -j DROP")
	return s
}

// host adds a host namespace to a home's LAN: 192.168.1.(10+n).
func (s *site) host(name string) *nshost {
	s.bed.t.Helper()
	b := s.bed
	s.hosts++
	h := &nshost{name: name, ns: b.newNS(s.name + "-" + name), ip: fmt.Sprintf("192.168.1.%d", 9+s.hosts), site: s}
	port := fmt.Sprintf("lan%d", s.hosts)
	b.ip("-n", s.ns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
	b.ip("-n", s.ns, "link", "set", port, "master", "lan0")
	b.ip("-n", s.ns, "link", "set", port, "up")
	b.ip("-n", h.ns, "addr", "add", h.ip+"/24", "dev", "eth0")
	b.ip("-n", h.ns, "link", "set", "eth0", "up")
	b.ip("-n", h.ns, "route", "add", "default", "via", "192.168.1.1")
	return h
}

// cut drops everything between the site and the internet, as an ISP
// outage would: packets vanish (no resets), the site's NAT keeps its
// mappings, and its LAN keeps working.
func (s *site) cut() {
	s.bed.t.Helper()
	s.bed.sh(s.bed.inet, fmt.Sprintf("iptables -I FORWARD -i %[1]s -j DROP\niptables -I FORWARD -o %[1]s -j DROP", s.uplink))
}

// restore undoes cut.
func (s *site) restore() {
	s.bed.t.Helper()
	s.bed.sh(s.bed.inet, fmt.Sprintf("iptables -D FORWARD -i %[1]s -j DROP\niptables -D FORWARD -o %[1]s -j DROP", s.uplink))
}

// impair delays each packet between the site and the internet by delay in
// each direction (so the round trip grows by 2×delay) and drops loss (a
// fraction, e.g. 0.01) of them in each direction. The first call replaces
// the site's veth uplink with a lossyLink (same interface names and
// addresses, so NAT mappings, routes and connections survive); later calls
// change its settings, and impair(0, 0) makes it a plain link again.
func (s *site) impair(delay time.Duration, loss float64) {
	b := s.bed
	b.t.Helper()
	if s.link == nil {
		b.ip("-n", b.inet, "link", "del", s.uplink) // and its peer, the site's wan
		wan, err := openTun(s.ns, "wan")
		if err != nil {
			b.t.Fatal(err)
		}
		up, err := openTun(b.inet, s.uplink)
		if err != nil {
			wan.Close()
			b.t.Fatal(err)
		}
		s.link = newLossyLink(wan, up)
		b.t.Cleanup(s.link.close)
		b.ip("-n", s.ns, "addr", "add", s.wanIP+"/24", "dev", "wan")
		b.ip("-n", s.ns, "link", "set", "wan", "up")
		b.ip("-n", s.ns, "route", "add", "default", "via", s.gateway)
		b.ip("-n", b.inet, "addr", "add", s.gateway+"/24", "dev", s.uplink)
		b.ip("-n", b.inet, "link", "set", s.uplink, "up")
	}
	s.link.set(delay, loss)
}

// syncBuffer is a bytes.Buffer safe to read while a process writes to it.
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
		dir = filepath.Join("..", "test-artifacts")
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
	scene, err := os.ReadFile(demoScene)
	if err != nil {
		t.Fatal(err)
	}
	mesh, err := os.ReadFile(filepath.Join(filepath.Dir(demoScene), "knot.obj"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "knot.obj"), string(mesh))
	path := filepath.Join(dir, "demo.scene")
	writeFile(t, path, string(scene)+"\n# copy: "+tag+"\n")
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
