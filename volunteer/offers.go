package volunteer

import (
	"sort"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/scheduler"
	"github.com/renderswarm/renderswarm/work"
)

// Offer is a job another node announced.
type Offer struct {
	ID        cid.Cid
	Manifest  job.Manifest
	Signed    []byte // signed manifest wire form
	State     string // "running" or "paused"
	TasksLeft int
	Seen      time.Time
	seq       int64 // of the announcement taken last
}

// offerBook keeps the jobs announced by others and wakes the volunteer when
// one arrives or changes. Which to work on, in what order, is the
// scheduler's Picker's decision (renderer and version, the user's blocks,
// priority from credits, a share for newcomers, staleness).
type offerBook struct {
	picker *scheduler.Picker
	self   peer.ID

	mu       sync.Mutex
	offers   map[cid.Cid]*Offer
	failures map[peer.ID]int // publishers' failures in a row
	wake     chan struct{}   // signalled when an offer arrives or changes
}

func newOfferBook(self peer.ID, picker *scheduler.Picker) *offerBook {
	return &offerBook{picker: picker, self: self, offers: map[cid.Cid]*Offer{}, failures: map[peer.ID]int{}, wake: make(chan struct{}, 1)}
}

// add records a validated announcement.
func (b *offerBook) add(a work.Announcement, m job.Manifest, sm job.SignedManifest, now time.Time) {
	if m.Publisher == b.self {
		return
	}
	id := sm.ID()
	b.mu.Lock()
	o, ok := b.offers[id]
	if !ok {
		b.makeRoom(m.Publisher)
		o = &Offer{ID: id, Manifest: m, Signed: a.Manifest}
		b.offers[id] = o
	} else if a.Seq != 0 && a.Seq < o.seq {
		b.mu.Unlock()
		return // overtaken by a newer announcement of the job
	}
	changed := !ok || o.State != a.State || o.TasksLeft != a.TasksLeft
	o.State, o.TasksLeft, o.Seen, o.seq = a.State, a.TasksLeft, now, a.Seq
	b.mu.Unlock()
	left := a.TasksLeft
	if a.State != "running" {
		left = 0 // paused: nothing to ask for
	}
	b.picker.Observe(scheduler.Offer{Job: id, Publisher: m.Publisher, Renderer: m.Renderer.Name,
		Version: m.Renderer.Version, TasksLeft: left, Seen: now})
	if changed {
		if left > 0 {
			b.picker.Snooze(id, time.Time{})
		}
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
}

// makeRoom forgets, when pub has work.MaxOffersPerPublisher offers, the
// one heard of least recently: one publisher's announcements cannot fill
// the book. Call with b.mu held.
func (b *offerBook) makeRoom(pub peer.ID) {
	var oldest *Offer
	n := 0
	for _, o := range b.offers {
		if o.Manifest.Publisher != pub {
			continue
		}
		n++
		if oldest == nil || o.Seen.Before(oldest.Seen) {
			oldest = o
		}
	}
	if n >= work.MaxOffersPerPublisher {
		delete(b.offers, oldest.ID)
		b.picker.Remove(oldest.ID)
	}
}

// candidates returns the offers worth asking now, best first.
func (b *offerBook) candidates(now time.Time) []Offer {
	order := b.picker.Order(now)
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Offer, 0, len(order))
	for _, po := range order {
		if o, ok := b.offers[po.Job]; ok {
			out = append(out, *o)
		}
	}
	return out
}

// backOff notes that the publisher of id had no work for us until t.
func (b *offerBook) backOff(id cid.Cid, until time.Time) { b.picker.Snooze(id, until) }

// Back-off of a publisher that fails the volunteer (does not answer, or
// leases a scene that cannot be fetched): every job of it is left alone for
// pubBackOff, doubling with each failure in a row up to maxPubBackOff.
const (
	pubBackOff    = 5 * time.Second
	maxPubBackOff = 30 * time.Minute
)

// publisherFailed backs off every job of pub.
func (b *offerBook) publisherFailed(pub peer.ID, now time.Time) {
	b.mu.Lock()
	n := b.failures[pub]
	b.failures[pub] = n + 1
	b.mu.Unlock()
	d := pubBackOff << min(n, 20)
	b.picker.SnoozePublisher(pub, now.Add(min(d, maxPubBackOff)))
}

// publisherAnswered ends pub's run of failures.
func (b *offerBook) publisherAnswered(pub peer.ID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures[pub] > 0 {
		delete(b.failures, pub)
		b.picker.SnoozePublisher(pub, time.Time{})
	}
}

// list returns the offers heard of within work.OfferMaxAge, oldest first,
// forgetting older ones.
func (b *offerBook) list(now time.Time) []Offer {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Offer, 0, len(b.offers))
	for id, o := range b.offers {
		if now.Sub(o.Seen) > work.OfferMaxAge {
			delete(b.offers, id)
			continue
		}
		out = append(out, *o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Manifest.Created < out[j].Manifest.Created })
	return out
}
