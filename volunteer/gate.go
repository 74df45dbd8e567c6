package volunteer

import (
	"context"
	"errors"
	"time"

	"github.com/renderswarm/renderswarm/internal/clock"
)

// errHandedBack stops a render whose lease the volunteer gives back because
// its user paused it, or its schedule or idle rule no longer allows work.
var errHandedBack = errors.New("volunteer stopped")

// gateEvery is how often the gate looks again at the clock and the
// machine's idleness (settings changes wake it at once).
const gateEvery = 2 * time.Second

// gate says why the volunteer may not start or continue work now; ""
// means it may.
func (v *Volunteer) gate(now time.Time) State {
	s, _ := v.settings.get()
	switch {
	case s.Paused:
		return StatePaused
	case s.Mode == Scheduled:
		if !s.Window.Contains(now) {
			return StateOffSchedule
		}
	case s.Mode == WhenIdle:
		d := s.IdleFor
		if d == 0 {
			d = DefaultIdle
		}
		if v.cfg.Machine != nil && !v.cfg.Machine.IdleFor(d, now) {
			return StateBusy
		}
	}
	return ""
}

// waitOpen blocks until the gate lets work through or ctx ends; false
// means ctx ended.
func (v *Volunteer) waitOpen(ctx context.Context) bool {
	var t clock.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for v.gate(v.clock.Now()) != "" {
		_, changed := v.settings.get()
		t = rearm(v.clock, t, gateEvery)
		select {
		case <-ctx.Done():
			return false
		case <-changed:
		case <-t.C():
		}
	}
	return true
}

// rearm makes t fire d from now, creating it the first time. Loops arm
// their timer only once their work is done, right before they wait.
func rearm(c clock.Clock, t clock.Timer, d time.Duration) clock.Timer {
	if t == nil {
		return c.NewTimer(d)
	}
	t.Reset(d)
	return t
}

// enforce hands back the leases being fetched or rendered whenever the
// gate closes (pause, end of the schedule, the machine's user is back),
// looking at every settings change and every gateEvery.
func (v *Volunteer) enforce(ctx context.Context) {
	var t clock.Timer
	for {
		_, changed := v.settings.get()
		if v.gate(v.clock.Now()) != "" {
			v.stopRenders(errHandedBack, func(*active) bool { return true })
		}
		t = rearm(v.clock, t, gateEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-changed:
		case <-t.C():
		}
	}
}

// stopRenders ends, with cause, the fetches and renders in progress that
// match (not committed results: those are finished work).
func (v *Volunteer) stopRenders(cause error, match func(*active) bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range v.renders {
		if (r.info.Phase == Fetching || r.info.Phase == Rendering) && match(r) {
			r.stop(cause)
		}
	}
}
