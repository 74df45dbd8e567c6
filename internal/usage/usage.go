// Package usage follows the CPU time and memory the node and its renderers
// use, and whether the rest of the machine is idle (a volunteer that
// renders only while its user is away asks it). The counters come from
// /proc on Linux (Supported); elsewhere they are unknown, reported as such
// in the API and the web app, and the machine always counts as idle.
//
// It imports only the standard library.
package usage

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// sampleEvery is how often the machine's and the node's CPU use are sampled.
const sampleEvery = 2 * time.Second

// busyShare is the share of the machine other programs may use while the
// machine still counts as idle (a volunteer rendering only when idle).
const busyShare = 0.25

// sample is one reading of the CPU time counters.
type sample struct {
	ours    float64 // CPU seconds of this process and its descendants
	busy    float64 // CPU seconds the whole machine was busy
	rss     int64   // resident bytes of this process and its descendants
	samples bool    // false where the platform offers no counters
}

// Meter follows the CPU and memory the node and its renderers use, and
// whether the rest of the machine is idle. Its zero value is ready; Run
// samples.
type Meter struct {
	mu         sync.Mutex
	cpuPercent float64   // ours, percent of one core, over the last interval
	rss        int64     // ours, bytes
	idleSince  time.Time // when the others' share last fell under busyShare; zero while busy
	known      bool      // counters exist here
}

// Run samples every sampleEvery until ctx ends.
func (u *Meter) Run(ctx context.Context) error {
	prev, at := readSample(), time.Now()
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cur, now := readSample(), time.Now()
		u.update(prev, cur, now.Sub(at).Seconds(), now)
		prev, at = cur, now
	}
}

func (u *Meter) update(prev, cur sample, wall float64, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.known = cur.samples
	if !cur.samples || wall <= 0 {
		return
	}
	ours := max(cur.ours-prev.ours, 0)
	others := max(cur.busy-prev.busy-ours, 0) / (wall * float64(runtime.NumCPU()))
	u.cpuPercent = 100 * ours / wall
	u.rss = cur.rss
	switch {
	case others >= busyShare:
		u.idleSince = time.Time{}
	case u.idleSince.IsZero():
		u.idleSince = now
	}
}

// Now reports the CPU the node and its renderers used lately, in percent
// of one core, and their resident memory; both are 0 when unknown.
func (u *Meter) Now() (cpuPercent float64, rss int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.cpuPercent, u.rss
}

// IdleFor reports whether the rest of the machine has been idle for at
// least d. Where no counters exist, the machine always counts as idle.
func (u *Meter) IdleFor(d time.Duration, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.known {
		return true
	}
	return !u.idleSince.IsZero() && now.Sub(u.idleSince) >= d
}
