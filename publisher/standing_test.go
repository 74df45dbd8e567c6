package publisher

import (
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/db"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/scheduler"
)

// A volunteer stays new (every task replicated) until this publisher has
// verified ~20 of its results across 3 jobs; then it is trusted more.
func TestStandingFromLedger(t *testing.T) {
	d, err := db.Open(t.TempDir() + "/node.db")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	key, _, _ := crypto.GenerateEd25519Key(nil)
	self, _ := peer.IDFromPrivateKey(key)
	_, vpub, _ := crypto.GenerateEd25519Key(nil)
	vol, _ := peer.IDFromPublicKey(vpub)
	ledger, err := credits.NewLedger(d, self)
	if err != nil {
		t.Fatal(err)
	}
	var ih [20]byte
	ih[0] = 1
	result := job.AssetCID(ih)
	s := newStandings(ledger)
	issue := func(jobName string, frames int) {
		h, _ := mh.Sum([]byte(jobName), mh.SHA2_256, -1)
		id := cid.NewCidV1(job.JSONCodec, h)
		for f := 1; f <= frames; f++ {
			if _, err := ledger.Issue(time.Unix(1795000000, 0), key, vol, job.Task{Job: id, Frame: f}, result, 1000); err != nil {
				t.Fatal(err)
			}
			s.credited(vol, id.String())
		}
	}
	// Each check reads the standing kept up to date and one read afresh
	// from the ledger (a restart).
	check := func(what string, want func(scheduler.Standing) bool) {
		t.Helper()
		for _, st := range []scheduler.Standing{s.of(vol), newStandings(ledger).of(vol)} {
			if !want(st) {
				t.Fatalf("%s: %+v (odds %.2f)", what, st, st.ReplicationOdds())
			}
		}
	}
	check("unknown volunteer: want new", func(st scheduler.Standing) bool { return st.New() && st.ReplicationOdds() == 1 })
	issue("a", 15)
	issue("b", 10)
	check("25 results in 2 jobs: want still new (needs 3 jobs)", scheduler.Standing.New)
	issue("c", 5)
	check("30 results in 3 jobs: want established", func(st scheduler.Standing) bool {
		return !st.New() && st.Verified == 30 && st.Jobs == 3 && st.ReplicationOdds() < 0.5
	})
	if err := ledger.Strike(time.Unix(1795000100, 0), vol, job.Task{Job: result, Frame: 1}, credits.Refuted); err != nil {
		t.Fatal(err)
	}
	s.struck(vol)
	check("caught: want new again", func(st scheduler.Standing) bool { return st.New() && st.Verified == 0 })
}
