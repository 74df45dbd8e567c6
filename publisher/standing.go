package publisher

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/clock"
	"github.com/renderswarm/renderswarm/scheduler"
)

// standingTTL bounds how stale the standings adaptive replication uses may
// be.
const standingTTL = 30 * time.Second

// standings derives each volunteer's standing from the ledger: the results
// of it this node verified, and the jobs they spanned, since its latest
// strike (a lost 2-of-3 vote or a refuted crop check). One strike sends it
// back to probation — every result replicated and checked — for every job
// of this publisher; its run of valid results starts again.
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

// forget drops the cache: a strike takes effect at once.
func (s *standings) forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = nil
}

func (s *standings) refresh() {
	records, err := s.ledger.Standings()
	if err != nil {
		return // keep the old view
	}
	got := make(map[peer.ID]scheduler.Standing, len(records))
	for p, r := range records {
		got[p] = scheduler.Standing{Verified: r.Verified, Jobs: r.Jobs, ConsecutiveValid: r.Verified}
	}
	s.got, s.at = got, s.clock.Now()
}
