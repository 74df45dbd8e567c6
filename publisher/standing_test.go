package publisher

import (
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/clock"
	"github.com/renderswarm/renderswarm/internal/db"
	"github.com/renderswarm/renderswarm/job"
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
	issue := func(jobName string, frames int) {
		h, _ := mh.Sum([]byte(jobName), mh.SHA2_256, -1)
		id := cid.NewCidV1(job.JSONCodec, h)
		for f := 1; f <= frames; f++ {
			if _, err := ledger.Issue(time.Unix(1795000000, 0), key, vol, job.Task{Job: id, Frame: f}, result, 1000); err != nil {
				t.Fatal(err)
			}
		}
	}
	s := newStandings(ledger, clock.Real{})
	if st := s.of(vol); !st.New() || st.ReplicationOdds() != 1 {
		t.Fatalf("unknown volunteer: %+v, want new", st)
	}
	issue("a", 15)
	issue("b", 10)
	s.got = nil // drop the cache
	if st := s.of(vol); !st.New() {
		t.Fatalf("25 results in 2 jobs: %+v, want still new (needs 3 jobs)", st)
	}
	issue("c", 5)
	s.got = nil
	st := s.of(vol)
	if st.New() || st.Verified != 30 || st.Jobs != 3 || st.ReplicationOdds() >= 0.5 {
		t.Fatalf("30 results in 3 jobs: %+v (odds %.2f), want established", st, st.ReplicationOdds())
	}
}
