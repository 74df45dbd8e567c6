package node

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/render"
)

// sandboxPolicy decides which renderers this node renders strangers'
// scenes with (DESIGN.md §4): the built-in one always; one that runs a
// program (Blender, POV-Ray) only when its sandbox was seen working at
// start, or when the user allows unsandboxed rendering. The publisher's
// own renders (calibration, crop checks) do not ask it.
type sandboxPolicy struct {
	installed []string          // renderers that work here, sorted
	needs     map[string]string // installed renderers that run a program: "" if sandboxed, else why not
	allow     atomic.Bool       // Settings.AllowUnsandboxed
}

// checkSandboxes asks every installed backend that runs a program
// whether its sandbox works (render.Sandboxer; the first call runs the
// renderer in it) and logs the outcome once per renderer: a warning when
// the node volunteers.
func checkSandboxes(backends map[string]render.Backend, infos map[string]render.Info, allow, volunteering bool, log *slog.Logger) *sandboxPolicy {
	p := &sandboxPolicy{installed: slices.Sorted(maps.Keys(infos)), needs: map[string]string{}}
	p.allow.Store(allow)
	for _, name := range p.installed {
		sb, ok := backends[name].(render.Sandboxer)
		if !ok {
			continue
		}
		works, why := sb.Sandboxed()
		if works {
			p.needs[name] = ""
			log.Info("sandboxWorking", "renderer", name)
			continue
		}
		if off := noSandbox(runtime.GOOS); off != "" {
			why = off
		}
		if why == "" {
			why = "no sandbox"
		}
		p.needs[name] = why
		switch {
		case !volunteering:
			log.Info("sandboxUnavailable", "renderer", name, "reason", why)
		case allow:
			log.Warn("renderingUnsandboxed", "renderer", name, "reason", why,
				"note", "strangers' scenes render without a sandbox (--allow-unsandboxed): they can read and write this user's files")
		default:
			log.Warn("strangersScenesRefused", "renderer", name, "reason", why,
				"note", "this node renders no stranger's scene with it; fix the sandbox, or start with --allow-unsandboxed")
		}
	}
	return p
}

// permits reports whether strangers' scenes may be rendered with renderer.
func (p *sandboxPolicy) permits(renderer string) bool {
	why, needs := p.needs[renderer]
	return !needs || why == "" || p.allow.Load()
}

// offered narrows the renderers a user offers (nil: all installed) to
// those the policy permits; never nil.
func (p *sandboxPolicy) offered(chosen []string) []string {
	if chosen == nil {
		chosen = p.installed
	}
	out := []string{}
	for _, name := range chosen {
		if p.permits(name) {
			out = append(out, name)
		}
	}
	return out
}

// versions is the name -> version map of installed renderers the policy
// permits: what the node advertises.
func (p *sandboxPolicy) versions(infos map[string]render.Info) map[string]string {
	out := map[string]string{}
	for name, info := range infos {
		if p.permits(name) {
			out[name] = info.Version
		}
	}
	return out
}

// state is the sandbox state as `renderswarm id` and the web app show it.
func (p *sandboxPolicy) state() gui.Sandbox {
	s := gui.Sandbox{Working: true, Renderers: map[string]string{}, AllowUnsandboxed: p.allow.Load()}
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(p.needs)) {
		why := p.needs[name]
		if why == "" {
			s.Renderers[name] = gui.SandboxWorking
			continue
		}
		s.Working = false
		s.Renderers[name] = why
		problems = append(problems, name+": "+why)
	}
	s.Problem = strings.Join(problems, "; ")
	return s
}

// guarded is a backend the volunteer renders strangers' tasks with: it
// refuses while the policy does not permit its renderer — a publisher
// granting a task for a renderer this node does not offer gets nothing
// rendered — and caps the task's memory at the user's setting.
type guarded struct {
	render.Backend
	name   string
	policy *sandboxPolicy
	cap    func() int64 // the user's memory cap in bytes
}

var _ render.Backend = guarded{}

func (g guarded) Render(ctx context.Context, t render.Task, progress func(render.Progress)) (render.Result, error) {
	if !g.policy.permits(g.name) {
		return render.Result{}, fmt.Errorf("%w: %s is not offered here", render.ErrUnavailable, g.name)
	}
	t.MemoryLimit = min(render.MemoryLimitOf(t), g.cap())
	return g.Backend.Render(ctx, t, progress)
}

// guardBackends wraps every backend in guarded.
func guardBackends(backends map[string]render.Backend, p *sandboxPolicy, memoryCap func() int64) map[string]render.Backend {
	out := make(map[string]render.Backend, len(backends))
	for name, b := range backends {
		out[name] = guarded{Backend: b, name: name, policy: p, cap: memoryCap}
	}
	return out
}

// memoryCap is the memory cap of settings s in bytes.
func memoryCap(s gui.Settings) int64 {
	if s.MaxMemory > 0 {
		return s.MaxMemory
	}
	return render.DefaultMemoryLimit
}

// noSandbox is why renders of Blender and POV-Ray scenes cannot run in a
// sandbox on goos, "" where they can: bubblewrap, the sandbox both
// backends use, is Linux-only, so elsewhere the sandbox policy applies
// (strangers' scenes only with the built-in renderer unless the user opts
// in), and the node says why once at start.
func noSandbox(goos string) string {
	if goos == "linux" {
		return ""
	}
	return "bubblewrap is Linux-only"
}
