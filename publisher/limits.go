package publisher

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// Lease requests a peer may make: leaseRate a second on average, leaseBurst
// at once. An honest volunteer asks once a task, or every few seconds when
// idle; a peer above it is told to come back later.
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

// allow reports whether p may ask for a lease at now.
func (l *limiter) allow(p peer.ID, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.peers[p]
	if !ok {
		lim = rate.NewLimiter(leaseRate, leaseBurst)
		l.peers[p] = lim
	}
	l.seen[p] = now
	return lim.AllowN(now, 1)
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
