package scheduler

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Picker defaults.
const (
	DefaultNewcomerShare = 0.2
	DefaultReannounce    = time.Minute
	// StaleAnnouncements is how many re-announce periods an offer survives
	// without being announced again.
	StaleAnnouncements = 3
)

// Offer is a job announcement a volunteer has seen.
type Offer struct {
	Job       cid.Cid
	Publisher peer.ID
	Renderer  string // renderer name, e.g. "blender"
	Version   string // exact renderer version
	TasksLeft int    // tasks not yet verified; 0 means nothing to do
	Seen      time.Time
}

// PickerConfig configures a Picker. Zero values are documented per field.
type PickerConfig struct {
	Self      peer.ID           // this node: its own jobs come first
	Renderers map[string]string // renderer name -> exact version this node has
	// BlockedPublishers and BlockedJobs are the user's filters.
	BlockedPublishers []peer.ID
	BlockedJobs       []cid.Cid
	// Priority is a publisher's priority from credits (higher first). nil
	// gives everyone 0.
	Priority func(peer.ID) float64
	// Newcomer reports whether a publisher has no standing at all. nil
	// treats a publisher whose priority is exactly 0 as a newcomer.
	Newcomer func(peer.ID) bool
	// NewcomerShare is the share of Order calls that put newcomers' offers
	// first (after own jobs). 0 means DefaultNewcomerShare; negative means
	// never.
	NewcomerShare float64
	// Reannounce is the publishers' re-announce period: offers not seen for
	// StaleAnnouncements periods are dropped. 0 means DefaultReannounce.
	Reannounce time.Duration
	Seed       uint64 // seeds the newcomer draw, so the order is reproducible
}

// Picker ranks the job offers a volunteer has seen. Its methods are safe for
// concurrent use.
type Picker struct {
	mu         sync.Mutex
	cfg        PickerConfig
	rng        *rand.Rand
	offers     map[cid.Cid]*offerEntry
	renderers  map[string]string
	blockedPub map[peer.ID]bool
	blockedJob map[cid.Cid]bool
	pubSnoozed map[peer.ID]time.Time // publishers skipped until then
}

type offerEntry struct {
	Offer
	first   time.Time // first announcement: older offers go first
	snoozed time.Time // skipped until then
}

// NewPicker returns a Picker with no offers.
func NewPicker(cfg PickerConfig) *Picker {
	if cfg.NewcomerShare == 0 {
		cfg.NewcomerShare = DefaultNewcomerShare
	}
	if cfg.Reannounce <= 0 {
		cfg.Reannounce = DefaultReannounce
	}
	p := &Picker{
		cfg:        cfg,
		rng:        rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		offers:     make(map[cid.Cid]*offerEntry),
		pubSnoozed: make(map[peer.ID]time.Time),
	}
	p.setRenderers(cfg.Renderers)
	p.setBlocked(cfg.BlockedPublishers, cfg.BlockedJobs)
	return p
}

// Observe records an announcement. A re-announcement updates the offer and
// keeps its age.
func (p *Picker) Observe(o Offer) {
	if !o.Job.Defined() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.offers[o.Job]
	if !ok {
		p.offers[o.Job] = &offerEntry{Offer: o, first: o.Seen}
		return
	}
	if o.Seen.Before(e.Seen) {
		return // an older announcement arriving late
	}
	e.Offer = o
}

// Remove forgets an offer (the job is done or was withdrawn).
func (p *Picker) Remove(job cid.Cid) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.offers, job)
}

// Snooze skips an offer until the given time, e.g. after its publisher
// answered ErrNoWork or did not answer.
func (p *Picker) Snooze(job cid.Cid, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.offers[job]; ok {
		e.snoozed = until
	}
}

// SnoozePublisher leaves every job of a publisher out of Order until the
// given time (a zero time lifts it): a publisher that does not answer, or
// whose scene cannot be fetched, does not hold the volunteer again on its
// next job.
func (p *Picker) SnoozePublisher(pub peer.ID, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until.IsZero() {
		delete(p.pubSnoozed, pub)
		return
	}
	p.pubSnoozed[pub] = until
}

// SetRenderers replaces the renderers this node has (name -> exact version).
func (p *Picker) SetRenderers(r map[string]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setRenderers(r)
}

func (p *Picker) setRenderers(r map[string]string) {
	p.renderers = make(map[string]string, len(r))
	for k, v := range r {
		p.renderers[k] = v
	}
}

// SetBlocked replaces the user's filters.
func (p *Picker) SetBlocked(publishers []peer.ID, jobs []cid.Cid) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setBlocked(publishers, jobs)
}

func (p *Picker) setBlocked(publishers []peer.ID, jobs []cid.Cid) {
	p.blockedPub = make(map[peer.ID]bool, len(publishers))
	for _, id := range publishers {
		p.blockedPub[id] = true
	}
	p.blockedJob = make(map[cid.Cid]bool, len(jobs))
	for _, j := range jobs {
		p.blockedJob[j] = true
	}
}

// Order drops stale offers and returns the ones to try now, best first:
// own jobs; then, in a share of calls drawn from the seeded source,
// newcomers' jobs; then by publisher priority, descending; ties
// by first announcement, oldest first, then by job ID. Offers with nothing
// left to do, needing a renderer name and exact version this node lacks,
// blocked by the user, or snoozed (the job, or its publisher) are left out.
func (p *Picker) Order(now time.Time) []Offer {
	p.mu.Lock()
	defer p.mu.Unlock()
	newcomerRound := p.cfg.NewcomerShare > 0 && p.rng.Float64() < p.cfg.NewcomerShare
	stale := StaleAnnouncements * p.cfg.Reannounce
	type ranked struct {
		e     *offerEntry
		class int // 0 own, 1 newcomer in a newcomer round, 2 the rest
		score float64
	}
	var rs []ranked
	for j, e := range p.offers {
		if now.Sub(e.Seen) > stale {
			delete(p.offers, j)
			continue
		}
		if !p.eligible(now, e) {
			continue
		}
		r := ranked{e: e, class: 2}
		switch {
		case e.Publisher == p.cfg.Self:
			r.class = 0
		case newcomerRound && p.newcomer(e.Publisher):
			r.class = 1
		}
		if p.cfg.Priority != nil {
			r.score = p.cfg.Priority(e.Publisher)
		}
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		return cmp.Or(
			cmp.Compare(a.class, b.class),
			cmp.Compare(b.score, a.score),
			a.e.first.Compare(b.e.first),
			cmp.Compare(a.e.Job.KeyString(), b.e.Job.KeyString()),
		)
	})
	out := make([]Offer, len(rs))
	for i, r := range rs {
		out[i] = r.e.Offer
	}
	return out
}

func (p *Picker) eligible(now time.Time, e *offerEntry) bool {
	if e.TasksLeft <= 0 || now.Before(e.snoozed) || now.Before(p.pubSnoozed[e.Publisher]) {
		return false
	}
	if p.blockedPub[e.Publisher] || p.blockedJob[e.Job] {
		return false
	}
	v, ok := p.renderers[e.Renderer]
	return ok && v == e.Version
}

func (p *Picker) newcomer(id peer.ID) bool {
	if p.cfg.Newcomer != nil {
		return p.cfg.Newcomer(id)
	}
	return p.cfg.Priority == nil || p.cfg.Priority(id) == 0
}
