package node

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/renderswarm/renderswarm/gui"
)

// volunteerAPI adapts the volunteer and the node-wide settings to the API.
type volunteerAPI struct{ n *node }

var _ gui.Volunteer = volunteerAPI{}

func (a volunteerAPI) Settings() gui.Settings {
	s, _ := a.n.set.get()
	return s
}

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
	if a.n.vol != nil {
		a.n.vol.applySettings(s)
	} else {
		a.n.set.set(s)
	}
	a.n.log.Info("settingsChanged", "cpus", s.CPUs, "mode", s.Mode, "paused", s.Paused)
	return s, nil
}

func (a volunteerAPI) Activity() gui.Activity {
	act := gui.Activity{State: gui.StateDisabled}
	if a.n.vol != nil {
		act = a.n.vol.activity()
	}
	act.CPUPercent, act.MemoryBytes = a.n.usage.now()
	s, _ := a.n.set.get()
	names := slices.Sorted(maps.Keys(Renderers()))
	for _, name := range names {
		info, ok := a.n.pub.infos[name]
		r := gui.Renderer{Name: name, Version: info.Version, Installed: ok}
		if !ok {
			r.Problem = rendererProblem(name)
		}
		r.Offered = ok && a.n.vol != nil && offered(map[string]string{name: info.Version}, s)[name] != ""
		act.Renderers = append(act.Renderers, r)
	}
	return act
}

func (a volunteerAPI) Preview() ([]byte, bool) {
	if a.n.vol == nil {
		return nil, false
	}
	a.n.vol.mu.Lock()
	defer a.n.vol.mu.Unlock()
	return a.n.vol.preview, a.n.vol.preview != nil
}
