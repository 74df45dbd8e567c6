// Package clock is the time source the roles are handed: Real in the node,
// Fake in tests, which move it forward by hand. A test that must show that
// nothing happens advances a Fake past every timer that could matter and
// then looks, instead of sleeping and hoping.
//
// It imports only the standard library.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time and makes timers and tickers.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
	// NewTicker ticks every d (d > 0) until stopped; like time.Ticker it
	// drops ticks a slow receiver misses.
	NewTicker(d time.Duration) Ticker
	// NewTimer fires once after d.
	NewTimer(d time.Duration) Timer
}

// Ticker is a time.Ticker.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Timer is a time.Timer.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

// Real is the wall clock.
type Real struct{}

var _ Clock = Real{}

func (Real) Now() time.Time                         { return time.Now() }
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (Real) NewTicker(d time.Duration) Ticker       { return realTicker{time.NewTicker(d)} }
func (Real) NewTimer(d time.Duration) Timer         { return realTimer{time.NewTimer(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

// Or returns c, or Real when c is nil: a Config's zero value.
func Or(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}

// Fake is a clock that moves only when told. Its timers and tickers fire
// during Advance, in order of their deadlines, each into a channel of one
// slot, so a receiver that is not waiting misses ticks as with a real
// ticker. It is safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters map[*fakeWaiter]struct{}
	changed chan struct{} // closed and replaced when the set of waiters changes
}

var _ Clock = (*Fake)(nil)

// NewFake returns a fake clock reading start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, waiters: map[*fakeWaiter]struct{}{}, changed: make(chan struct{})}
}

type fakeWaiter struct {
	f      *Fake
	at     time.Time
	period time.Duration // tickers; 0 for timers
	ch     chan time.Time
}

func (w *fakeWaiter) C() <-chan time.Time { return w.ch }

// Stop stops a ticker or timer; for a timer it reports whether it was
// still pending. As with Go's timers, no stale tick is received after it.
func (w *fakeWaiter) Stop() bool {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	_, pending := w.f.waiters[w]
	w.f.remove(w)
	w.drain()
	return pending
}

// Reset re-arms a timer to fire d from now, dropping a tick not received.
func (w *fakeWaiter) Reset(d time.Duration) bool {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	_, pending := w.f.waiters[w]
	w.drain()
	w.at = w.f.now.Add(d)
	w.f.add(w)
	return pending
}

func (w *fakeWaiter) drain() {
	select {
	case <-w.ch:
	default:
	}
}

type fakeTicker struct{ *fakeWaiter }

func (t fakeTicker) Stop() { t.fakeWaiter.Stop() }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// After returns a channel that receives the time once Advance has moved
// the clock d forward.
func (f *Fake) After(d time.Duration) <-chan time.Time { return f.NewTimer(d).C() }

// NewTimer returns a timer firing once the clock has moved d forward.
func (f *Fake) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &fakeWaiter{f: f, at: f.now.Add(d), ch: make(chan time.Time, 1)}
	f.add(w)
	return w
}

// NewTicker returns a ticker firing every d of fake time.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive ticker interval")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &fakeWaiter{f: f, at: f.now.Add(d), period: d, ch: make(chan time.Time, 1)}
	f.add(w)
	return fakeTicker{w}
}

// Advance moves the clock d forward, firing every timer and tick that
// falls due on the way, in deadline order, with the time of its deadline.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	end := f.now.Add(d)
	for {
		var next *fakeWaiter
		for w := range f.waiters {
			if !w.at.After(end) && (next == nil || w.at.Before(next.at)) {
				next = w
			}
		}
		if next == nil {
			break
		}
		if next.at.After(f.now) {
			f.now = next.at
		}
		select {
		case next.ch <- next.at:
		default: // the receiver missed it, as with a real ticker
		}
		if next.period > 0 {
			next.at = next.at.Add(next.period)
		} else {
			f.remove(next)
		}
	}
	f.now = end
}

// Waiters is the number of pending timers and running tickers.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// BlockUntil waits until at least n timers or tickers are pending, or
// until limit (wall time) has passed, and reports whether they were. Tests
// call it before Advance, so that the goroutine under test is waiting on
// the clock rather than still on its way there.
func (f *Fake) BlockUntil(n int, limit time.Duration) bool {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		count, changed := len(f.waiters), f.changed
		f.mu.Unlock()
		if count >= n {
			return true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return false
		}
	}
}

func (f *Fake) add(w *fakeWaiter) {
	f.waiters[w] = struct{}{}
	f.notify()
}

func (f *Fake) remove(w *fakeWaiter) {
	if _, ok := f.waiters[w]; ok {
		delete(f.waiters, w)
		f.notify()
	}
}

func (f *Fake) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}
