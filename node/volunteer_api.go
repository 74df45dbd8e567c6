package node

import (
	"cmp"
	"context"
	"time"

	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/internal/usage"
	"github.com/renderswarm/renderswarm/volunteer"
)

// volunteerAPI adapts the volunteer and the node-wide settings to the API.
type volunteerAPI struct{ n *node }

var _ gui.Volunteer = volunteerAPI{}

func (a volunteerAPI) Settings() gui.Settings { return a.n.settings.get() }

// UpdateSettings checks, persists and applies settings: the asset store's
// quota and upload rate at once; the volunteer's cores from its next task;
// pause, schedule, idle rule, renderers and blocks at once (renders they
// stop are handed back).
func (a volunteerAPI) UpdateSettings(ctx context.Context, s gui.Settings) (gui.Settings, error) {
	if s.Mode == "" {
		s.Mode = gui.ModeAlways
	}
	if err := checkSettings(s); err != nil {
		return a.Settings(), err
	}
	if err := saveSettings(a.n.db, s, time.Now()); err != nil {
		return a.Settings(), err
	}
	a.n.store.SetCacheQuota(s.CacheQuota)
	a.n.store.SetUploadRate(s.MaxUploadRate)
	a.n.settings.set(s)
	a.n.sandbox.allow.Store(s.AllowUnsandboxed)
	if a.n.vol != nil {
		a.n.vol.ApplySettings(volunteerSettings(s, a.n.sandbox))
	}
	a.n.log.Info("settingsChanged", "cpus", s.CPUs, "mode", s.Mode, "paused", s.Paused,
		"allowUnsandboxed", s.AllowUnsandboxed, "maxMemory", s.MaxMemory)
	return s, nil
}

// activityStates maps the volunteer's states to the API's.
var activityStates = map[volunteer.State]string{
	volunteer.StateRendering:   gui.StateRendering,
	volunteer.StateWaiting:     gui.StateWaiting,
	volunteer.StatePaused:      gui.StatePaused,
	volunteer.StateBusy:        gui.StateBusy,
	volunteer.StateOffSchedule: gui.StateOffSchedule,
}

func (a volunteerAPI) Activity() gui.Activity {
	act := gui.Activity{State: gui.StateDisabled}
	if v := a.n.vol; v != nil {
		va := v.Activity()
		act.State, act.Rendered = activityStates[va.State], va.Rendered
		for _, r := range va.Renders {
			act.Renders = append(act.Renders, gui.ActiveRender{
				Job: r.Job.String(), Title: r.Title, Publisher: r.Publisher.String(), Frame: r.Frame, Tile: r.Tile,
				Phase: string(r.Phase), Progress: r.Progress, Threads: r.Threads, Started: r.Started,
			})
		}
	}
	act.CPUPercent, act.MemoryBytes = a.n.usage.Now()
	act.UsageKnown = usage.Supported
	for _, name := range RendererNames() {
		info, ok := a.n.infos[name]
		r := gui.Renderer{Name: name, Version: info.Version, Installed: ok}
		if !ok {
			r.Problem = rendererProblem(name)
		} else if why, needs := a.n.sandbox.needs[name]; needs {
			r.Sandbox = cmp.Or(why, gui.SandboxWorking)
		}
		r.Offered = ok && a.n.vol != nil && a.n.vol.Offered(name)
		act.Renderers = append(act.Renderers, r)
	}
	return act
}

func (a volunteerAPI) Preview() ([]byte, bool) {
	if a.n.vol == nil {
		return nil, false
	}
	return a.n.vol.Preview()
}
