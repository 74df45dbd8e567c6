package work

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"github.com/renderswarm/renderswarm/internal/peerrate"
)

// MaxOffersPerPublisher is how many of one publisher's jobs a volunteer
// keeps offers of, and how many a publisher announces each AnnounceEvery:
// a publisher with more open jobs announces its oldest.
const MaxOffersPerPublisher = 64

// AnnounceBudget is what every node lets a publisher announce on
// JobsTopic: MaxOffersPerPublisher announcements per AnnounceEvery on
// average, twice that at once. Announcements over it are dropped before
// they are delivered or forwarded, so a publisher flooding the topic
// reaches no one with the excess. A publisher not heard from for an
// OfferMaxAge has its budget full again, and is forgotten.
type AnnounceBudget struct{ b *peerrate.Buckets }

// NewAnnounceBudget returns a budget with nothing spent.
func NewAnnounceBudget() *AnnounceBudget {
	every := rate.Limit(float64(MaxOffersPerPublisher) / AnnounceEvery.Seconds())
	return &AnnounceBudget{peerrate.New(every, 2*MaxOffersPerPublisher, OfferMaxAge)}
}

// Allow spends one announcement of publisher at now and reports whether
// the budget had it.
func (b *AnnounceBudget) Allow(publisher peer.ID, now time.Time) bool {
	ok, _ := b.b.Take(publisher, now)
	return ok
}
