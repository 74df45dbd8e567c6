package publisher

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/internal/peerrate"
	"github.com/renderswarm/renderswarm/work"
)

// Lease requests that get no work a peer may make: leaseRate a second on
// average, leaseBurst at once. An idle honest volunteer asks every few
// seconds; a peer above it is told to come back later. A request that is
// granted a lease costs nothing here: how fast a peer may take work is
// bounded by its uncommitted leases (scheduler), and a volunteer rendering
// tiny tasks asks many times a second.
const (
	leaseRate  = 2
	leaseBurst = 10
)

// newLimiter returns the per-peer buckets of lease requests; a peer idle
// for a minute is full again and may be forgotten.
func newLimiter() *peerrate.Buckets {
	return peerrate.New(leaseRate, leaseBurst, time.Minute)
}

// A job with no work for those who ask tells them when to ask again: every
// few seconds while few ask, less often as more do, so that its idle askers
// together ask about noWorkRate times a second however large the swarm
// (ten thousand volunteers asking every two seconds would be 5,000 requests
// a second for nothing). A task that frees up is still taken within a
// fraction of a second, by one of the many.
const (
	noWorkRate   = 50               // requests a second from a job's idle askers, about
	maxNoWork    = 30 * time.Second // the longest wait told
	idleFor      = time.Minute      // an asker counts as idle this long after its last no-work answer
	idlePruneMin = 1024             // idlers are pruned when their count doubles past this
)

// idlers are the peers a job told lately that it had no work for them.
type idlers struct {
	mu     sync.Mutex
	at     map[peer.ID]time.Time
	pruned int // len(at) after the last prune
}

// retry records that p was told at now that there is no work, and returns
// when it should ask again: work.RetryNoWork per noWorkRate idle askers,
// at least work.RetryNoWork and at most maxNoWork.
func (s *idlers) retry(p peer.ID, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.at == nil {
		s.at = map[peer.ID]time.Time{}
	}
	s.at[p] = now
	if len(s.at) >= max(2*s.pruned, idlePruneMin) {
		for q, t := range s.at {
			if now.Sub(t) > idleFor {
				delete(s.at, q)
			}
		}
		s.pruned = len(s.at)
	}
	wait := time.Duration(len(s.at)) * time.Second / noWorkRate
	return min(max(wait, work.RetryNoWork), maxNoWork)
}
