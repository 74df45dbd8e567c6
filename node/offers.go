package node

import (
	"sort"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/p2p"
)

// offer is a job another node announced.
type offer struct {
	ID        cid.Cid
	Manifest  job.Manifest
	Signed    []byte // signed manifest wire form
	State     string
	TasksLeft int
	Boost     int
	Seen      time.Time
	// noWorkUntil: the publisher had nothing for us; don't ask before then.
	noWorkUntil time.Time
}

// offerBook keeps the jobs announced by others, newest announcement wins.
type offerBook struct {
	mu     sync.Mutex
	self   peer.ID
	offers map[cid.Cid]*offer
	wake   chan struct{} // signalled when an offer arrives or changes
}

func newOfferBook(self peer.ID) *offerBook {
	return &offerBook{self: self, offers: map[cid.Cid]*offer{}, wake: make(chan struct{}, 1)}
}

// add records a validated announcement.
func (b *offerBook) add(a p2p.Announcement, m job.Manifest, sm job.SignedManifest, now time.Time) {
	if m.Publisher == b.self {
		return
	}
	id := sm.ID()
	b.mu.Lock()
	o, ok := b.offers[id]
	if !ok {
		o = &offer{ID: id, Manifest: m, Signed: a.Manifest}
		b.offers[id] = o
	}
	changed := !ok || o.State != a.State || o.TasksLeft != a.TasksLeft
	o.State, o.TasksLeft, o.Boost, o.Seen = a.State, a.TasksLeft, a.Boost, now
	if changed {
		o.noWorkUntil = time.Time{}
	}
	b.mu.Unlock()
	if changed {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
}

// candidates returns the running offers worth asking now, best first, and
// drops offers not heard of for maxAge.
func (b *offerBook) candidates(now time.Time, maxAge time.Duration, can func(job.Manifest) bool) []offer {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []offer
	for id, o := range b.offers {
		if now.Sub(o.Seen) > maxAge {
			delete(b.offers, id)
			continue
		}
		if o.State != "running" || o.TasksLeft == 0 || now.Before(o.noWorkUntil) || !can(o.Manifest) {
			continue
		}
		out = append(out, *o)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Boost != out[j].Boost {
			return out[i].Boost > out[j].Boost
		}
		return out[i].Manifest.Created < out[j].Manifest.Created
	})
	return out
}

// backOff notes that the publisher of id had no work for us until t.
func (b *offerBook) backOff(id cid.Cid, until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if o, ok := b.offers[id]; ok {
		o.noWorkUntil = until
	}
}

// list returns every known offer.
func (b *offerBook) list() []offer {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]offer, 0, len(b.offers))
	for _, o := range b.offers {
		out = append(out, *o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Manifest.Created < out[j].Manifest.Created })
	return out
}
