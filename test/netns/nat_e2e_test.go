package netns

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tinyJob is the job every NAT test publishes: rendering is negligible, so
// what is timed is the network.
var tinyJob = []string{"--frames", "1-6", "--replicas", "2", "--resolution", "64x36", "--samples", "4"}

// relayLogEnv turns on the debug log of go-libp2p's relay service, whose
// "relayed bytes" lines show what each relayed connection carried.
var relayLogEnv = []string{"GOLOG_LOG_LEVEL=error,relay=debug"}

// natSwarm is the internet of TestJobAcrossNATs: a bootstrap node with a
// public address (it relays; it renders nothing), a publisher in home A
// and volunteers in homes B and C, each home behind its own NAT, C's
// symmetric.
type natSwarm struct {
	bed                 *netbed
	homeA, homeB, homeC *site
	relay, pub          *nsnode
	vols                []*nsnode // b, c
}

func startNATSwarm(t *testing.T) *natSwarm {
	t.Helper()
	b := newNetbed(t)
	s := &natSwarm{bed: b}
	relayHost := b.publicHost("relay")
	s.homeA, s.homeB, s.homeC = b.home("homea", coneNAT), b.home("homeb", coneNAT), b.home("homec", symmetricNAT)
	s.relay = relayHost.start(t, relayLogEnv, "--no-volunteer")
	boot := s.relay.bootstrap()
	s.pub = s.homeA.host("pc").start(t, nil, "--no-volunteer", "--bootstrap", boot)
	for _, h := range []*site{s.homeB, s.homeC} {
		s.vols = append(s.vols, h.host("pc").start(t, nil, "--bootstrap", boot, "--cpus", "1"))
	}
	return s
}

// relayed reports whether n's addresses include one through a relay.
func relayed(n *nsnode) bool {
	return strings.Contains(strings.Join(n.currentAddrs(), " "), "/p2p-circuit")
}

// timing is how long a job took from publish.
type timing struct{ firstLease, completed time.Duration }

func (tm timing) String() string {
	return fmt.Sprintf("first lease %.1fs, completed %.1fs", tm.firstLease.Seconds(), tm.completed.Seconds())
}

// timeJob publishes with publish, then polls status until the first lease
// is out (a frame rendering or done) and until the job completed.
func timeJob(t *testing.T, d time.Duration, publish func() string, status func(string) jobStatus) (string, timing) {
	t.Helper()
	start := time.Now()
	id := publish()
	var tm timing
	for {
		st := status(id)
		if tm.firstLease == 0 && (st.Frames.Rendering > 0 || st.Frames.Verified > 0) {
			tm.firstLease = time.Since(start)
		}
		if st.State == "completed" {
			tm.completed = time.Since(start)
			if tm.firstLease == 0 {
				tm.firstLease = tm.completed
			}
			return id, tm
		}
		if st.State == "failed" || st.State == "canceled" {
			t.Fatalf("job %s %s: %+v", id, st.State, st.Frames)
		}
		if time.Since(start) > d {
			t.Fatalf("job %s not completed after %v: %+v", id, d, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// relayedBytes are the byte counts of the relay's log lines "relayed
// bytes" (one per direction of each relayed connection it carried).
func relayedBytes(log string) []int64 {
	var out []int64
	for _, m := range relayedBytesLine.FindAllStringSubmatch(log, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		out = append(out, n)
	}
	return out
}

var relayedBytesLine = regexp.MustCompile(`msg="relayed bytes".* count=(\d+)`)

// relayDataLimit is go-libp2p's default per-direction data limit of one
// relayed connection (relay.DefaultLimit), which renderswarm's relays keep.
const relayDataLimit = 128 << 10

// A publisher behind one NAT and volunteers behind two others (one of them
// symmetric) complete a job; the connection between the two cone NATs is
// hole punched, the one to the symmetric NAT stays relayed and still
// carries the work within the relay's limits, and an asset several times
// the relay's per-connection limit crosses it. It also times the job
// against the same job on loopback and with 100 ms RTT and 1 % loss on
// the publisher's home link.
func TestJobAcrossNATs(t *testing.T) {
	requireImpairment(t)

	s := startNATSwarm(t)
	b, c := s.vols[0], s.vols[1]
	for _, n := range []*nsnode{s.pub, b, c} {
		d := waitUntil(t, 90*time.Second, n.host.site.name+" reachable through a relay", func() bool { return relayed(n) })
		t.Logf("%s (%s NAT) has a relay address %.1fs after it started", n.host.site.name, natName(n), time.Since(n.started).Seconds())
		_ = d
	}

	id, tm := timeJob(t, 3*time.Minute, func() string { return s.pub.publish(sceneCopy(t, "nat"), tinyJob...) }, s.pub.status)
	t.Logf("behind NAT: %s", tm)
	out := t.TempDir()
	s.pub.must(time.Minute, "fetch", id, "-o", out)
	if e, _ := os.ReadDir(out); len(e) != 6 {
		t.Fatalf("fetched %d frames, want 6", len(e))
	}

	// Paths: A–B hole punched (a direct connection between two NATed
	// hosts exists only if it was punched), A–C and B–C relayed (C's NAT
	// is symmetric).
	paths := connectionPaths(t, s.pub, b, c)
	if p := paths[[2]string{"homea", "homeb"}]; p.State != "direct" || !strings.Contains(strings.Join(p.Addrs, " "), "/ip4/"+s.homeB.wanIP+"/") {
		t.Errorf("publisher–B (two cone NATs): want a direct, hole-punched connection to %s; peers shows %+v", s.homeB.wanIP, p)
	}
	if p := paths[[2]string{"homea", "homec"}]; p.State != "relayed" {
		t.Errorf("publisher–C (symmetric NAT): want a relayed connection; peers shows %+v", p)
	}

	// An asset 1.5 times the relay's per-connection limit moves from A
	// to C, the only path being the relay: the relay ends a relayed
	// connection at its limit and the transfer resumes on the next.
	big := filepath.Join(t.TempDir(), "big.bin")
	data := make([]byte, 3*relayDataLimit/2)
	rand.Read(data)
	if err := os.WriteFile(big, data, 0o644); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(s.pub.must(time.Minute, "assets", "add", big)), "\n")
	cid := lines[len(lines)-1]
	start := time.Now()
	got := t.TempDir()
	c.must(3*time.Minute, "assets", "get", cid, "-o", got, "--timeout", "150s")
	t.Logf("a %d KiB asset crossed the relay from A to C in %.1fs", len(data)>>10, time.Since(start).Seconds())
	if g, err := os.ReadFile(filepath.Join(got, "big.bin")); err != nil || string(g) != string(data) {
		t.Fatalf("asset at C differs from A's (%v)", err)
	}

	// Slow and lossy: 100 ms RTT and 1 % loss each way on A's uplink.
	_, warm := timeJob(t, 3*time.Minute, func() string { return s.pub.publish(sceneCopy(t, "warm"), tinyJob...) }, s.pub.status)
	s.homeA.impair(50*time.Millisecond, 0.01)
	_, slow := timeJob(t, 4*time.Minute, func() string { return s.pub.publish(sceneCopy(t, "netem"), tinyJob...) }, s.pub.status)
	s.homeA.impair(0, 0)
	t.Logf("same job again, connections warm: %s; with 100 ms RTT and 1%% loss each way on A's link: %s", warm, slow)

	logHolePunches(t, s.pub, b, c)

	// The relay logs what each relayed connection carried when it ends:
	// stop it, then check that none carried more than its limit, and that
	// it cut some (the asset crossed it in several).
	s.relay.stop()
	counts := relayedBytes(s.relay.log.String())
	cut := 0
	for _, n := range counts {
		if n > relayDataLimit {
			t.Errorf("a relayed connection carried %d bytes one way, over the relay's limit %d", n, relayDataLimit)
		}
		if n == relayDataLimit {
			cut++
		}
	}
	t.Logf("relay: %d relayed connection halves, %d cut at the %d-byte limit; bytes %v", len(counts), cut, relayDataLimit, counts)
	if cut < 1 {
		t.Errorf("the relay cut no connection at its limit; a %d-byte asset should have needed two", len(data))
	}
}

// connectionPaths logs how each pair of nodes is connected, as the first
// node of the pair sees it in `peers --json`, and returns it by pair of
// site names.
func connectionPaths(t *testing.T, nodes ...*nsnode) map[[2]string]peerView {
	t.Helper()
	out := map[[2]string]peerView{}
	direct, relayed := 0, 0
	for i, a := range nodes {
		for _, b := range nodes[i+1:] {
			p, ok := a.peer(b)
			if !ok {
				t.Logf("%s–%s: not connected", a.host.site.name, b.host.site.name)
				continue
			}
			out[[2]string{a.host.site.name, b.host.site.name}] = p
			switch p.State {
			case "direct":
				direct++
			case "relayed":
				relayed++
			}
			t.Logf("%s–%s: %s via %v", a.host.site.name, b.host.site.name, p.State, p.Addrs)
		}
	}
	t.Logf("connections between NATed nodes: %d direct (hole punched), %d relayed", direct, relayed)
	return out
}

func natName(n *nsnode) string {
	if strings.HasSuffix(n.host.site.name, "c") {
		return "symmetric"
	}
	return "cone"
}

// logHolePunches logs what each node's log says about hole punching.
func logHolePunches(t *testing.T, nodes ...*nsnode) {
	t.Helper()
	for _, n := range nodes {
		log := n.log.String()
		t.Logf("%s: %d hole punches succeeded, %d attempts failed", n.host.site.name,
			strings.Count(log, "msg=holePunched"), strings.Count(log, "msg=holePunchAttemptFailed"))
	}
}
