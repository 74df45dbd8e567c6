package scheduler

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
	"github.com/renderswarm/renderswarm/job"
)

var t0 = time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)

const ttl = time.Hour

// testJob returns a well-formed job ID.
func testJob(name string) cid.Cid {
	m, err := mh.Sum([]byte(name), mh.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return cid.NewCidV1(job.JSONCodec, m)
}

// testPeer returns the n-th deterministic Ed25519 peer ID.
func testPeer(tb testing.TB, n int) peer.ID {
	tb.Helper()
	seed := sha256.Sum256([]byte{byte(n >> 8), byte(n)})
	priv, _, err := crypto.GenerateEd25519Key(bytes.NewReader(seed[:]))
	if err != nil {
		tb.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

func testPeers(tb testing.TB, n int) []peer.ID {
	ps := make([]peer.ID, n)
	for i := range ps {
		ps[i] = testPeer(tb, i+1)
	}
	return ps
}

// seeded returns a deterministic random reader.
func seeded(n byte) *rand.ChaCha8 {
	var s [32]byte
	s[0] = n
	return rand.NewChaCha8(s)
}

// tasksOf returns frames 1..frames with tiles tiles each.
func tasksOf(j cid.Cid, frames, tiles int) []job.Task {
	var ts []job.Task
	for f := 1; f <= frames; f++ {
		for tile := range tiles {
			ts = append(ts, job.Task{Job: j, Frame: f, Tile: tile})
		}
	}
	return ts
}

// strict turns the placement rules off: strict work order, no gap, no
// limits on a peer's leases, no commit deadline.
func strict(cfg Config) Config {
	cfg.PickWindow, cfg.ReplicaGap, cfg.MaxActiveNew, cfg.MaxActive = 1, -1, -1, -1
	cfg.MinCommitWait, cfg.DeliverWindow = -1, -1
	return cfg
}

// testConfig is a job in strict work order with no placement limits: the
// tests of placement (placement_test.go) turn them on.
func testConfig(frames, replicas int) Config {
	j := testJob("job")
	return strict(Config{Job: j, Tasks: tasksOf(j, frames, 1), Replicas: replicas, LeaseTTL: ttl, Rand: seeded(1)})
}

func newCoord(tb testing.TB, cfg Config) *Coordinator {
	tb.Helper()
	c, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func frameTask(frame int) job.Task { return job.Task{Job: testJob("job"), Frame: frame} }

func digest(s string) job.PixelDigest { return sha256.Sum256([]byte(s)) }

// result returns a result whose asset CID and digest derive from s.
func result(s string) Result {
	d := digest(s)
	var ih [20]byte
	copy(ih[:], d[:])
	return Result{CID: job.AssetCID(ih), Digest: d}
}

func mustLease(tb testing.TB, c *Coordinator, now time.Time, p peer.ID, prefix string) Lease {
	tb.Helper()
	l, err := c.Lease(now, p, prefix)
	if err != nil {
		tb.Fatalf("Lease(%s): %v", p, err)
	}
	return l
}

// deliver commits to the result named s for lease l and delivers it as
// soon as its task lets it: a replica whose task waits for another
// replica's commitment is delivered, in order, by the deliver call that
// commits that one.
func deliver(tb testing.TB, c *Coordinator, now time.Time, l Lease, s string) {
	tb.Helper()
	r := result(s)
	if err := commit(c, now, l.ID, l.Peer, job.Commit(l.Salt, r.Digest)); err != nil {
		tb.Fatalf("Commit: %v", err)
	}
	held.mu.Lock()
	defer held.mu.Unlock()
	held.q[c] = append(held.q[c], heldResult{l, r})
	var keep []heldResult
	for _, h := range held.q[c] {
		ok, err := c.Revealed(now, h.l.ID, h.l.Peer)
		if err != nil {
			tb.Fatalf("Revealed: %v", err)
		}
		if !ok {
			keep = append(keep, h)
			continue
		}
		if err := c.Deliver(now, h.l.ID, h.l.Peer, h.r); err != nil {
			tb.Fatalf("Deliver: %v", err)
		}
	}
	held.q[c] = keep
}

// held are results committed but not yet revealed, per coordinator.
var held = struct {
	mu sync.Mutex
	q  map[*Coordinator][]heldResult
}{q: map[*Coordinator][]heldResult{}}

type heldResult struct {
	l Lease
	r Result
}

func wantErr(tb testing.TB, err, want error) {
	tb.Helper()
	if !errors.Is(err, want) {
		tb.Fatalf("got error %v, want %v", err, want)
	}
}

// frames returns the frames of leases, in order.
func frames(ls []Lease) []int {
	out := make([]int, len(ls))
	for i, l := range ls {
		out[i] = l.Task.Frame
	}
	return out
}

// commit is Coordinator.Commit for tests that do not look at the reveal.
func commit(c *Coordinator, now time.Time, leaseID string, p peer.ID, cm job.Commitment) error {
	_, err := c.Commit(now, leaseID, p, cm)
	return err
}
