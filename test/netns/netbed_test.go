package netns

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
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
		if pid == os.Getpid() || alive(pid) {
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
