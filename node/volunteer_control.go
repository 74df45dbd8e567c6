package node

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/p2p"
)

// errHandedBack stops a render whose lease the volunteer gives back because
// its user paused it, or its schedule or idle rule no longer allows work.
var errHandedBack = errors.New("volunteer stopped")

// Phases of an active render (gui.ActiveRender.Phase).
const (
	phaseFetching   = "fetching scene"
	phaseRendering  = "rendering"
	phaseDelivering = "delivering"
)

// activeRender is a task this volunteer holds a lease of.
type activeRender struct {
	info     gui.ActiveRender
	renderer string
	stop     context.CancelCauseFunc // ends the fetch or render
}

// settingsBox holds the settings in effect; changed is closed and replaced
// at every change, so waiters wake.
type settingsBox struct {
	mu      sync.Mutex
	s       gui.Settings
	changed chan struct{}
}

func newSettingsBox(s gui.Settings) *settingsBox {
	return &settingsBox{s: s, changed: make(chan struct{})}
}

func (b *settingsBox) get() (gui.Settings, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.s, b.changed
}

func (b *settingsBox) set(s gui.Settings) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.s = s
	close(b.changed)
	b.changed = make(chan struct{})
}

// gate says why the volunteer may not start or continue work now, as a
// gui state; "" means it may.
func (v *volunteer) gate(now time.Time) string {
	s, _ := v.settings.get()
	switch {
	case s.Paused:
		return gui.StatePaused
	case s.Mode == gui.ModeSchedule:
		if from, to, err := gui.ParseSchedule(s.Schedule); err == nil && !inSchedule(now, from, to) {
			return gui.StateOffSchedule
		}
	case s.Mode == gui.ModeIdle:
		mins := s.IdleMinutes
		if mins == 0 {
			mins = defaultIdleMinutes
		}
		if !v.usage.idleFor(time.Duration(mins)*time.Minute, now) {
			return gui.StateBusy
		}
	}
	return ""
}

// waitOpen blocks until the gate lets work through or ctx ends; false
// means ctx ended.
func (v *volunteer) waitOpen(ctx context.Context) bool {
	for v.gate(time.Now()) != "" {
		_, changed := v.settings.get()
		select {
		case <-ctx.Done():
			return false
		case <-changed:
		case <-time.After(usageEvery):
		}
	}
	return true
}

// enforce hands back the leases being fetched or rendered whenever the
// gate closes (pause, end of the schedule, the machine's user is back),
// checking at every settings change and every usageEvery.
func (v *volunteer) enforce(ctx context.Context) {
	for {
		_, changed := v.settings.get()
		if v.gate(time.Now()) != "" {
			v.stopRenders(errHandedBack, func(*activeRender) bool { return true })
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-time.After(usageEvery):
		}
	}
}

// stopRenders ends, with cause, the fetches and renders in progress that
// match (not deliveries: those are finished work).
func (v *volunteer) stopRenders(cause error, match func(*activeRender) bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range v.renders {
		if r.info.Phase != phaseDelivering && match(r) {
			r.stop(cause)
		}
	}
}

// track records a leased task as active until untrack; setPhase updates
// its phase and progress.
func (v *volunteer) track(lease string, o offer, g *p2p.LeaseGrant, stop context.CancelCauseFunc) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.renders[lease] = &activeRender{stop: stop, renderer: o.Manifest.Renderer.Name, info: gui.ActiveRender{
		Job: o.ID.String(), Title: o.Manifest.Title, Publisher: o.Manifest.Publisher.String(),
		Frame: g.Task.Frame, Tile: g.Task.Tile, Phase: phaseFetching, Started: time.Now(),
	}}
}

func (v *volunteer) setPhase(lease, phase string, progress float64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if r, ok := v.renders[lease]; ok {
		r.info.Phase, r.info.Progress = phase, progress
	}
}

func (v *volunteer) setThreads(lease string, threads int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if r, ok := v.renders[lease]; ok {
		r.info.Threads = threads
	}
}

func (v *volunteer) progressOf(lease string) float64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if r, ok := v.renders[lease]; ok && r.info.Phase != phaseFetching {
		return min(max(r.info.Progress, 0), 1)
	}
	return 0
}

func (v *volunteer) untrack(lease string, delivered bool, preview []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.renders, lease)
	if delivered {
		v.rendered++
	}
	if preview != nil {
		v.preview = preview
	}
}

// working reports whether this volunteer holds a lease of job id now.
func (v *volunteer) working(id string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range v.renders {
		if r.info.Job == id {
			return true
		}
	}
	return false
}

// activity reports what the volunteer does now.
func (v *volunteer) activity() gui.Activity {
	a := gui.Activity{State: v.gate(time.Now())}
	v.mu.Lock()
	for _, r := range v.renders {
		a.Renders = append(a.Renders, r.info)
	}
	a.Rendered = v.rendered
	v.mu.Unlock()
	sort.Slice(a.Renders, func(i, j int) bool { return a.Renders[i].Started.Before(a.Renders[j].Started) })
	if a.State == "" {
		a.State = gui.StateWaiting
		if len(a.Renders) > 0 {
			a.State = gui.StateRendering
		}
	}
	return a
}

// offered is the renderer name -> version map the volunteer asks work for:
// the installed ones its user offers.
func offered(installed map[string]string, s gui.Settings) map[string]string {
	if s.Renderers == nil {
		return maps.Clone(installed)
	}
	out := map[string]string{}
	for name, v := range installed {
		if slices.Contains(s.Renderers, name) {
			out[name] = v
		}
	}
	return out
}

// applySettings makes new settings take effect in the volunteer at once.
func (v *volunteer) applySettings(s gui.Settings) {
	pubs, jobs := blockLists(s)
	v.offers.picker.SetBlocked(pubs, jobs)
	off := offered(v.versions, s)
	v.offers.picker.SetRenderers(off)
	v.settings.set(s)
	// A render of a renderer no longer offered, or of a job or publisher
	// now blocked, is handed back.
	v.stopRenders(errHandedBack, func(r *activeRender) bool {
		pub, _ := peer.Decode(r.info.Publisher)
		return slices.Contains(pubs, pub) || slices.Contains(s.BlockedJobs, r.info.Job) || off[r.renderer] == ""
	})
}
