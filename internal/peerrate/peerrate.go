// Package peerrate keeps a token bucket per peer: how often each peer may
// do something (ask for work, announce a job), with the table of peers
// bounded by forgetting those idle long enough for their buckets to be
// full again.
package peerrate

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// pruneAt is how many peers the table holds before Take forgets idle ones.
const pruneAt = 4096

// Buckets is a token bucket per peer. It is safe for concurrent use.
type Buckets struct {
	every rate.Limit
	burst int
	idle  time.Duration

	mu    sync.Mutex
	peers map[peer.ID]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns buckets that refill at every tokens a second up to burst; a
// peer idle for idle (long enough to be full again) may be forgotten.
func New(every rate.Limit, burst int, idle time.Duration) *Buckets {
	return &Buckets{every: every, burst: burst, idle: idle, peers: map[peer.ID]*bucket{}}
}

// Take spends one of p's tokens at now and reports whether it had one;
// refund, when it did, gives the token back (the action turned out to
// cost nothing).
func (b *Buckets) Take(p peer.ID, now time.Time) (ok bool, refund func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk, found := b.peers[p]
	if !found {
		if len(b.peers) >= pruneAt {
			b.prune(now)
		}
		bk = &bucket{lim: rate.NewLimiter(b.every, b.burst)}
		b.peers[p] = bk
	}
	bk.seen = now
	r := bk.lim.ReserveN(now, 1)
	if !r.OK() || r.DelayFrom(now) > 0 {
		r.CancelAt(now)
		return false, nil
	}
	return true, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		r.CancelAt(now)
	}
}

// Prune forgets the peers idle at now.
func (b *Buckets) Prune(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.prune(now)
}

func (b *Buckets) prune(now time.Time) {
	for p, bk := range b.peers {
		if now.Sub(bk.seen) > b.idle {
			delete(b.peers, p)
		}
	}
}
