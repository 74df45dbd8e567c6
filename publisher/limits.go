package publisher

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
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

// limiter keeps a token bucket of lease requests per peer.
type limiter struct {
	mu    sync.Mutex
	peers map[peer.ID]*rate.Limiter
	seen  map[peer.ID]time.Time
}

func newLimiter() *limiter {
	return &limiter{peers: map[peer.ID]*rate.Limiter{}, seen: map[peer.ID]time.Time{}}
}

// ask reports whether p may ask for a lease at now, taking a token; when
// the request is granted work, refund gives the token back.
func (l *limiter) ask(p peer.ID, now time.Time) (ok bool, refund func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, found := l.peers[p]
	if !found {
		lim = rate.NewLimiter(leaseRate, leaseBurst)
		l.peers[p] = lim
	}
	l.seen[p] = now
	r := lim.ReserveN(now, 1)
	if !r.OK() || r.DelayFrom(now) > 0 {
		r.CancelAt(now)
		return false, nil
	}
	return true, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		r.CancelAt(now)
	}
}

// prune forgets peers that have not asked for a while (their buckets are
// full again by then).
func (l *limiter) prune(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, at := range l.seen {
		if now.Sub(at) > time.Minute {
			delete(l.peers, p)
			delete(l.seen, p)
		}
	}
}
