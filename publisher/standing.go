package publisher

import (
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/clock"
	"github.com/renderswarm/renderswarm/scheduler"
)

// standingTTL bounds how stale the standings adaptive replication uses may
// be.
const standingTTL = 30 * time.Second

// standings derives each volunteer's standing from the receipts this node
// issued as a publisher: results it verified and the jobs they spanned.
// Lost votes are not recorded in the ledger yet, so ConsecutiveValid counts
// every verified result (a volunteer that loses a 2-of-3 is blocklisted for
// that job by the coordinator instead).
type standings struct {
	ledger *credits.Ledger
	clock  clock.Clock

	mu  sync.Mutex
	at  time.Time
	got map[peer.ID]scheduler.Standing
}

func newStandings(l *credits.Ledger, c clock.Clock) *standings {
	return &standings{ledger: l, clock: c}
}

// of is a scheduler.Config.Standing function. It runs under a coordinator's
// lock, so it only reads a cache refreshed at most every standingTTL.
func (s *standings) of(p peer.ID) scheduler.Standing {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.got == nil || s.clock.Now().Sub(s.at) > standingTTL {
		s.refresh()
	}
	return s.got[p]
}

func (s *standings) refresh() {
	entries, err := s.ledger.Receipts(0)
	if err != nil {
		return // keep the old view
	}
	verified := map[peer.ID]int{}
	jobs := map[peer.ID]map[cid.Cid]bool{}
	for _, e := range entries {
		if e.Role != credits.RolePublisher {
			continue
		}
		verified[e.Counterpart]++
		if jobs[e.Counterpart] == nil {
			jobs[e.Counterpart] = map[cid.Cid]bool{}
		}
		jobs[e.Counterpart][e.Task.Job] = true
	}
	got := make(map[peer.ID]scheduler.Standing, len(verified))
	for p, n := range verified {
		got[p] = scheduler.Standing{Verified: n, Jobs: len(jobs[p]), ConsecutiveValid: n}
	}
	s.got, s.at = got, s.clock.Now()
}
