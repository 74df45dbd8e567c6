package volunteer

import (
	"context"
	"sort"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/internal/imaging"
	"github.com/renderswarm/renderswarm/work"
)

// State is what the volunteer is doing, or why it does nothing.
type State string

// States.
const (
	StateRendering   State = "rendering"        // at least one task leased
	StateWaiting     State = "waiting for work" // volunteering, nothing to do
	StatePaused      State = "paused"           // Settings.Paused
	StateBusy        State = "machine in use"   // WhenIdle and the machine is not idle
	StateOffSchedule State = "outside schedule" // Scheduled and outside the window
)

// Phase is where a leased task is.
type Phase string

// Phases of a leased task.
const (
	Fetching   Phase = "fetching scene"
	Rendering  Phase = "rendering"
	Committed  Phase = "waiting for the other replicas"
	Delivering Phase = "delivering"
)

// Activity is what the volunteer does now.
type Activity struct {
	State    State
	Renders  []Render // oldest first
	Rendered int      // tasks delivered since start
}

// Render is a task the volunteer holds a lease of.
type Render struct {
	Job       cid.Cid
	Title     string
	Publisher peer.ID
	Frame     int
	Tile      int
	Phase     Phase
	Progress  float64 // 0..1 of the render phase
	Threads   int     // cores the render uses (0 until it starts)
	Started   time.Time
}

// active is a task this volunteer holds a lease of.
type active struct {
	info     Render
	renderer string
	stop     context.CancelCauseFunc // ends the fetch or render
}

// Activity reports what the volunteer does now.
func (v *Volunteer) Activity() Activity {
	a := Activity{State: v.gate(v.clock.Now())}
	v.mu.Lock()
	for _, r := range v.renders {
		a.Renders = append(a.Renders, r.info)
	}
	a.Rendered = v.rendered
	v.mu.Unlock()
	sort.Slice(a.Renders, func(i, j int) bool { return a.Renders[i].Started.Before(a.Renders[j].Started) })
	if a.State == "" {
		a.State = StateWaiting
		if len(a.Renders) > 0 {
			a.State = StateRendering
		}
	}
	return a
}

// Preview is the last image this volunteer delivered, as a PNG no larger
// than imaging.PreviewSize on its longer side; ok is false before the
// first.
func (v *Volunteer) Preview() (png []byte, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.preview == nil {
		return nil, false
	}
	if !v.previewSmall { // made when asked for: most renders are never shown
		small, err := imaging.Thumbnail(v.preview, imaging.PreviewSize)
		if err != nil {
			v.preview = nil // the web app shows no preview; the result was fine
			return nil, false
		}
		v.preview, v.previewSmall = small, true
	}
	return v.preview, true
}

// Working reports whether the volunteer holds a lease of job id now.
func (v *Volunteer) Working(id cid.Cid) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range v.renders {
		if r.info.Job == id {
			return true
		}
	}
	return false
}

// track records a leased task as active until untrack; setPhase updates
// its phase and progress.
func (v *Volunteer) track(o Offer, g *work.Grant, stop context.CancelCauseFunc) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.renders[g.Lease] = &active{stop: stop, renderer: o.Manifest.Renderer.Name, info: Render{
		Job: o.ID, Title: o.Manifest.Title, Publisher: o.Manifest.Publisher,
		Frame: g.Task.Frame, Tile: g.Task.Tile, Phase: Fetching, Started: v.clock.Now(),
	}}
}

func (v *Volunteer) setPhase(lease string, phase Phase, progress float64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if r, ok := v.renders[lease]; ok {
		r.info.Phase, r.info.Progress = phase, progress
	}
}

func (v *Volunteer) setThreads(lease string, threads int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if r, ok := v.renders[lease]; ok {
		r.info.Threads = threads
	}
}

// heartbeat is the progress a lease's heartbeat reports: the whole work,
// fetching the scene counted as its first hundredth, so that a publisher
// sees it grow from the start.
func (v *Volunteer) heartbeat(lease string) float64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	r, ok := v.renders[lease]
	if !ok {
		return 0
	}
	f := min(max(r.info.Progress, 0), 1)
	switch r.info.Phase {
	case Fetching:
		return 0.01 * f
	case Rendering:
		return 0.01 + 0.98*f
	}
	return 1
}

func (v *Volunteer) untrack(lease string, delivered bool, preview []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.renders, lease)
	if delivered {
		v.rendered++
	}
	if preview != nil {
		v.preview, v.previewSmall = preview, false
	}
}
