package work

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// MaxOffersPerPublisher is how many of one publisher's jobs a volunteer
// keeps offers of, and how many a publisher announces each AnnounceEvery:
// a publisher with more open jobs announces its oldest.
const MaxOffersPerPublisher = 64

// AnnounceBudget is what every node lets a publisher announce on
// JobsTopic: MaxOffersPerPublisher announcements per AnnounceEvery on
// average, twice that at once. Announcements over it are dropped before
// they are delivered or forwarded, so a publisher flooding the topic
// reaches no one with the excess.
type AnnounceBudget struct {
	mu    sync.Mutex
	peers map[peer.ID]*rate.Limiter
	seen  map[peer.ID]time.Time
}

// NewAnnounceBudget returns a budget with nothing spent.
func NewAnnounceBudget() *AnnounceBudget {
	return &AnnounceBudget{peers: map[peer.ID]*rate.Limiter{}, seen: map[peer.ID]time.Time{}}
}

// Allow spends one announcement of publisher at now and reports whether
// the budget had it.
func (b *AnnounceBudget) Allow(publisher peer.ID, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	lim, ok := b.peers[publisher]
	if !ok {
		if len(b.peers) >= 4096 {
			b.prune(now)
		}
		lim = rate.NewLimiter(rate.Limit(float64(MaxOffersPerPublisher)/AnnounceEvery.Seconds()), 2*MaxOffersPerPublisher)
		b.peers[publisher] = lim
	}
	b.seen[publisher] = now
	return lim.AllowN(now, 1)
}

// prune forgets publishers not heard from for an OfferMaxAge: their
// buckets are full again by then.
func (b *AnnounceBudget) prune(now time.Time) {
	for p, at := range b.seen {
		if now.Sub(at) > OfferMaxAge {
			delete(b.peers, p)
			delete(b.seen, p)
		}
	}
}
