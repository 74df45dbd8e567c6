package publisher

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/scheduler"
)

// standings keeps each volunteer's standing: the results of it this node
// verified, and the jobs they spanned, since its latest strike (a lost
// 2-of-3 vote or a refuted crop check). One strike sends it back to
// probation — every result replicated and checked — for every job of this
// publisher; its run of valid results starts again.
//
// It is read from the ledger once and then kept up to date as receipts are
// issued and strikes recorded, so that a lease (which reads it under the
// coordinator's lock) never waits for the database.
type standings struct {
	ledger *credits.Ledger

	mu     sync.Mutex
	loaded bool
	got    map[peer.ID]*standing
}

type standing struct {
	verified int
	jobs     map[string]struct{}
}

func newStandings(l *credits.Ledger) *standings {
	return &standings{ledger: l, got: map[peer.ID]*standing{}}
}

// of is a scheduler.Config.Standing function. Until the ledger could be
// read, every volunteer is new.
func (s *standings) of(p peer.ID) scheduler.Standing {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	st := s.got[p]
	if st == nil {
		return scheduler.Standing{}
	}
	return scheduler.Standing{Verified: st.verified, Jobs: len(st.jobs), ConsecutiveValid: st.verified}
}

// credited counts a receipt just issued to p for a task of job.
func (s *standings) credited(p peer.ID, job string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.load() {
		return // read when it can be, receipt included
	}
	st := s.got[p]
	if st == nil {
		st = &standing{jobs: map[string]struct{}{}}
		s.got[p] = st
	}
	st.verified++
	st.jobs[job] = struct{}{}
}

// struck sends p back to probation.
func (s *standings) struck(p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.got, p)
}

// load reads the ledger's standings the first time; it reports whether
// they are loaded.
func (s *standings) load() bool {
	if s.loaded {
		return true
	}
	records, err := s.ledger.Standings()
	if err != nil {
		return false
	}
	for p, r := range records {
		if r.Verified == 0 {
			continue
		}
		st := &standing{verified: r.Verified, jobs: map[string]struct{}{}}
		for _, j := range r.JobIDs {
			st.jobs[j] = struct{}{}
		}
		s.got[p] = st
	}
	s.loaded = true
	return true
}
