// Package phase measures how long the steps of the work protocol take in
// a running node (a lease granted, a result received, decoded, compared,
// crop-checked, credited…), for bench/throughput and for anyone profiling
// a node: each phase keeps a count, a total and its most recent
// durations, from which percentiles are read. Recording is a mutex and a
// ring write; nothing is logged.
package phase

import (
	"slices"
	"sync"
	"time"
)

// keep is how many recent durations a phase keeps for its percentiles.
const keep = 4096

// series is one phase's record.
type series struct {
	count int64
	total time.Duration
	ring  [keep]time.Duration
	next  int
}

// Recorder records phases by name. The zero value is ready.
type Recorder struct {
	mu sync.Mutex
	m  map[string]*series
}

// Default is the recorder the node's roles write to.
var Default = &Recorder{}

// Observe records one duration of phase name.
func (r *Recorder) Observe(name string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]*series{}
	}
	s := r.m[name]
	if s == nil {
		s = &series{}
		r.m[name] = s
	}
	s.count++
	s.total += d
	s.ring[s.next%keep] = d
	s.next++
}

// Mark is the moment a phase started. Phases are measured on the wall
// clock, whatever clock the code measured runs on.
type Mark struct{ t time.Time }

// Now marks the start of a phase.
func Now() Mark { return Mark{time.Now()} }

// Since records the time from start to now as one duration of name.
func (r *Recorder) Since(name string, start Mark) { r.Observe(name, time.Since(start.t)) }

// Lap records the time from start to now as one duration of name and
// returns now, the start of the next phase.
func (r *Recorder) Lap(name string, start Mark) Mark {
	now := Now()
	r.Observe(name, now.t.Sub(start.t))
	return now
}

// Summary is what Snapshot tells of a phase; percentiles are over its
// most recent durations.
type Summary struct {
	Count int64         `json:"count"`
	Total time.Duration `json:"total_ns"`
	P50   time.Duration `json:"p50_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"`
}

// Snapshot summarizes every phase recorded so far.
func (r *Recorder) Snapshot() map[string]Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]Summary, len(r.m))
	for name, s := range r.m {
		n := min(s.next, keep)
		recent := slices.Clone(s.ring[:n])
		slices.Sort(recent)
		out[name] = Summary{Count: s.count, Total: s.total,
			P50: quantile(recent, 0.50), P99: quantile(recent, 0.99), Max: recent[n-1]}
	}
	return out
}

// Reset forgets every phase.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m = nil
}

// quantile is the q-quantile of sorted, nearest rank.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
