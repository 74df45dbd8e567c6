package assets

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/assets/assetstest"
	"github.com/renderswarm/renderswarm/job"
)

func cids(t *testing.T, s *Store) []cid.Cid {
	t.Helper()
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var out []cid.Cid
	for _, in := range list {
		out = append(out, in.CID)
	}
	return out
}

func TestCacheQuotaCollectsLeastRecentlyUsedUnpinned(t *testing.T) {
	if testing.Short() {
		t.Skip("transfers several assets")
	}
	mem := assetstest.NewMem()
	a := startNode(t, mem, nil)
	b := startNode(t, mem, func(c *Config) { c.CacheQuota = 5 << 19 }) // 2.5 MiB
	add := func(n *testNode, name string, size int) Info {
		t.Helper()
		p := filepath.Join(t.TempDir(), name)
		randomFile(t, p, size)
		in, err := n.s.Add(ctxFor(t, 10*time.Second), []string{p})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	get := func(in Info) {
		t.Helper()
		if _, err := b.s.Get(ctxFor(t, 20*time.Second), in.CID, nil); err != nil {
			t.Fatal(err)
		}
	}
	var x, y, z, w Info
	for i, in := range []*Info{&x, &y, &z, &w} {
		*in = add(a, fmt.Sprintf("a%d.bin", i), 1<<20)
	}
	p := add(b, "pinned.bin", 3<<20) // over the quota alone, but pinned

	get(x)
	get(y)
	if _, err := b.s.Path(x.CID); err != nil { // x is now used more recently than y
		t.Fatal(err)
	}
	get(z) // 3 MiB cached > 2.5 MiB: y goes
	if got := cids(t, b.s); len(got) != 3 || !slices.Contains(got, p.CID) || !slices.Contains(got, x.CID) || !slices.Contains(got, z.CID) {
		t.Fatalf("after quota: %v, want pinned, x, z", got)
	}
	if _, err := b.s.Path(y.CID); err == nil {
		t.Fatal("y still has a path after collection")
	}

	if err := b.s.Pin(x.CID, true); err != nil {
		t.Fatal(err)
	}
	get(w) // cached: z, w = 2 MiB, fits
	if got := cids(t, b.s); len(got) != 4 {
		t.Fatalf("after pinning x: %v", got)
	}
	if err := b.s.Pin(p.CID, false); err != nil { // now 5 MiB cached; p is the oldest
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the unpinned asset to be collected", func() bool {
		return !slices.Contains(cids(t, b.s), p.CID)
	})
	if got := cids(t, b.s); len(got) != 3 {
		t.Fatalf("after unpinning: %v, want x, z, w", got)
	}
}

func TestUploadRateCapLimitsThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("rate-limited transfer takes seconds")
	}
	mem := assetstest.NewMem()
	a, b := startNode(t, mem, nil), startNode(t, mem, nil)
	p := filepath.Join(t.TempDir(), "f.bin")
	const size, bps = 3 << 20, 1 << 20
	randomFile(t, p, size)
	in, err := a.s.Add(ctxFor(t, 10*time.Second), []string{p})
	if err != nil {
		t.Fatal(err)
	}
	a.s.SetUploadRate(bps) // live, while running
	start := time.Now()
	if _, err := b.s.Get(ctxFor(t, 30*time.Second), in.CID, nil); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	// The burst lets uploadBurst bytes through at once; the rest is paced.
	floor := time.Duration(float64(size-uploadBurst) / bps * 0.9 * float64(time.Second))
	t.Logf("%d bytes at %d B/s cap took %v (floor %v)", size, bps, took, floor)
	if took < floor {
		t.Fatalf("took %v, faster than the cap allows (%v)", took, floor)
	}
}

// An asset in use (Hold) survives a quota lowered live to almost nothing;
// once released, the next collection removes it.
func TestHeldAssetSurvivesCollection(t *testing.T) {
	if testing.Short() {
		t.Skip("transfers an asset")
	}
	mem := assetstest.NewMem()
	a, b := startNode(t, mem, nil), startNode(t, mem, nil)
	in, other := addRandom(t, a.s, "scene0.bin", 1<<20), addRandom(t, a.s, "scene1.bin", 1<<20)
	for _, info := range []Info{in, other} {
		if _, err := b.s.Get(ctxFor(t, 20*time.Second), info.CID, nil); err != nil {
			t.Fatal(err)
		}
	}
	release, err := b.s.Hold(in.CID)
	if err != nil {
		t.Fatal(err)
	}
	b.s.SetCacheQuota(1)
	eventually(t, 5*time.Second, "the asset not held to be collected", func() bool {
		return !slices.Contains(cids(t, b.s), other.CID)
	})
	if _, err := b.s.Path(in.CID); err != nil {
		t.Fatalf("a held asset was collected: %v", err)
	}
	release()
	release() // twice is harmless
	b.s.SetCacheQuota(1)
	eventually(t, 5*time.Second, "the released asset to be collected", func() bool {
		return !slices.Contains(cids(t, b.s), in.CID)
	})
	if _, err := b.s.Hold(in.CID); err == nil {
		t.Fatal("Hold of a collected asset succeeded")
	}
}

// A use is written at most once a minute per asset: rendering from a scene
// for every task does not cost a durable write each time. The order of
// uses a minute apart is kept.
func TestUsesRecordedOnceAMinute(t *testing.T) {
	n := startNode(t, assetstest.NewMem(), nil)
	x, y := addRandom(t, n.s, "u0.bin", 1<<10), addRandom(t, n.s, "u1.bin", 1<<10)
	lastUsed := func(in Info) int64 {
		t.Helper()
		ih, err := job.InfoHash(in.CID)
		if err != nil {
			t.Fatal(err)
		}
		var v int64
		if err := n.s.cfg.DB.QueryRow(`SELECT last_used FROM assets WHERE infohash = ?`, ih[:]).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	use := func(in Info) {
		t.Helper()
		if _, err := n.s.Path(in.CID); err != nil {
			t.Fatal(err)
		}
	}
	use(x)
	use(y)
	if lastUsed(y) <= lastUsed(x) {
		t.Fatal("y, used last, is not the most recently used")
	}
	before := lastUsed(x)
	use(x) // within the minute: not written
	if lastUsed(x) != before {
		t.Fatal("a second use within a minute was written")
	}
}
