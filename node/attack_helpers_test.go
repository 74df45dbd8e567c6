package node

import (
	"context"
	"crypto/sha1"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/internal/adversary"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/publisher"
	"github.com/renderswarm/renderswarm/scheduler"
)

// quickDeadlines is a swarm tweak for attacks that wait out the
// commit-then-reveal deadlines: the publisher gives late replicas
// quickCommitWait to commit and quickDeliverWindow to deliver instead of a
// minute each, so that a test shows the deadline without sitting through
// it.
func quickDeadlines(_ int, cfg *Config) {
	cfg.tune = func(c *scheduler.Config) {
		c.MinCommitWait = quickCommitWait
		c.DeliverWindow = quickDeliverWindow
	}
}

const (
	quickCommitWait    = 5 * time.Second
	quickDeliverWindow = 5 * time.Second
)

// The attack tests play package adversary's hostile peers against a real
// in-process swarm (startSwarm: node 0 publishes, the others volunteer,
// each with libp2p, torrents and its own database). They live here, in
// package node's tests, because the swarm and the publisher's ledger are
// this package's; the adversaries are separate libp2p peers that
// bootstrap from node 0 and speak only the work protocol (a swarm of one
// node is a publisher facing adversaries alone). Each asserts the secure
// behaviour; each failed against the work protocol before commit-then-
// reveal (see the kit's doc for what each showed).

// startAdversary starts an adversary peer bootstrapped from the swarm's
// publisher, closed at the end of the test.
func startAdversary(t *testing.T, ctx context.Context, s *swarm, watch bool) *adversary.Peer {
	t.Helper()
	lg := slog.New(slog.DiscardHandler)
	if os.Getenv("RS_DEBUG") != "" {
		lg = slog.Default().With("component", "adversary")
	}
	p, err := adversary.Start(ctx, adversary.Config{
		Dir: t.TempDir(), Bootstrap: []peer.AddrInfo{s.nodes[0].net.AddrInfo()},
		WatchResults: watch, Logger: lg,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// goWork runs p.Work on a job in the background until it returns or the
// test ends.
func goWork(t *testing.T, ctx context.Context, p *adversary.Peer, s *swarm, id cid.Cid, b adversary.Behavior) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.Work(ctx, s.nodes[0].net.ID(), id, b); err != nil {
			t.Errorf("adversary %s: %v", p.ID(), err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("adversary %s still working 30s after the test ended", p.ID())
		}
	})
}

// publish publishes the demo scene with req (Scene filled in).
func publish(t *testing.T, ctx context.Context, s *swarm, scene string, req publisher.Request) (cid.Cid, job.Manifest) {
	t.Helper()
	req.Scene = scene
	id, err := s.nodes[0].pub.Publish(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.nodes[0].pub.Status(id)
	if err != nil {
		t.Fatal(err)
	}
	return id, st.Manifest
}

// receipts returns the receipts the publisher issued for job id.
func receipts(t *testing.T, s *swarm, id cid.Cid) []credits.Entry {
	t.Helper()
	all, err := s.nodes[0].ledger.Receipts(0)
	if err != nil {
		t.Fatal(err)
	}
	var out []credits.Entry
	for _, e := range all {
		if e.Role == credits.RolePublisher && e.Task.Job.Equals(id) {
			out = append(out, e)
		}
	}
	return out
}

// waitReceiptsFor waits (bounded) until every task of a completed job has
// at least per receipts, and returns the job's receipts.
func waitReceiptsFor(t *testing.T, s *swarm, id cid.Cid, m job.Manifest, per int) []credits.Entry {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		rs := receipts(t, s, id)
		n := map[job.Task]int{}
		for _, r := range rs {
			n[r.Task]++
		}
		ok := true
		for _, task := range m.Tasks(id) {
			ok = ok && n[task] >= per
		}
		if ok || time.Now().After(deadline) {
			return rs
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pauseVolunteers pauses or resumes the swarm's volunteers, as their users
// would from the web app.
func pauseVolunteers(t *testing.T, ctx context.Context, s *swarm, paused bool) {
	t.Helper()
	for _, n := range s.nodes[1:] {
		if n.vol == nil {
			continue
		}
		api := volunteerAPI{n: n}
		set := api.Settings()
		set.Paused = paused
		if _, err := api.UpdateSettings(ctx, set); err != nil {
			t.Fatal(err)
		}
	}
}

// establish gives p a verified record at the swarm's publisher, as if it
// had rendered 21 frames of 3 earlier jobs there: receipts in the
// publisher's ledger, which is where its standings come from. It is what
// an identity earns by behaving well for a while before it cheats.
func establish(t *testing.T, s *swarm, p peer.ID) {
	t.Helper()
	pub := s.nodes[0]
	key := pub.net.Host().Peerstore().PrivKey(pub.net.ID())
	for i := range 21 {
		jobID := job.ManifestID(fmt.Appendf(nil, "earlier job %d of %s", i%3, p))
		result := job.AssetCID(sha1.Sum(fmt.Appendf(nil, "result %d of %s", i, p)))
		task := job.Task{Job: jobID, Frame: i + 1}
		if _, err := pub.ledger.Issue(time.Now(), key, p, task, result, 100); err != nil {
			t.Fatal(err)
		}
	}
}

// establishAll establishes every volunteer node of s, and the peers ps.
func establishAll(t *testing.T, s *swarm, ps ...peer.ID) {
	t.Helper()
	for _, n := range s.nodes[1:] {
		ps = append(ps, n.net.ID())
	}
	for _, p := range ps {
		establish(t, s, p)
	}
}

// activityOf is a node's volunteer activity, for failure messages.
func activityOf(n *node) gui.Activity { return volunteerAPI{n: n}.Activity() }

// tasksString lists tasks by frame for messages.
func tasksString(ts []job.Task) string {
	var fs []int
	for _, t := range ts {
		fs = append(fs, t.Frame)
	}
	slices.Sort(fs)
	return fmt.Sprint(fs)
}

// waitFor polls cond (bounded) and reports whether it came true.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
