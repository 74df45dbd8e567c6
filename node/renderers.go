package node

import (
	"context"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/render/blender"
	"github.com/renderswarm/renderswarm/render/builtin"
	"github.com/renderswarm/renderswarm/render/povray"
)

// Renderers is the explicit registry of renderer backends by name: the list
// is reportable (peers, GUI, `renderswarm render --renderer`) and nothing
// registers itself from an init function. Blender and POV-Ray are the ones
// on PATH, else the ones in their usual install places on this system
// (render.FindProgram). The backends log to log (nil: slog.Default()).
func Renderers(log *slog.Logger) map[string]render.Backend {
	return map[string]render.Backend{
		builtin.Name: builtin.New(),
		povray.Name: &povray.Backend{Logger: log,
			Program: render.FindProgram("povray", povray.InstallPaths(runtime.GOOS))},
		blender.Name: &blender.Backend{Logger: log,
			Program: render.FindProgram("blender", blender.InstallPaths(runtime.GOOS, os.Getenv, filepath.Glob))},
	}
}

// shared is the process's one set of backends for its nodes: every node
// in a process (the demo's swarm, tests) renders with the same programs,
// so each renderer's sandbox is checked once (render.Sandboxer runs the
// renderer in it, about a second for Blender). The first node's logger
// gets the backends' notices.
var shared struct {
	sync.Once
	backends map[string]render.Backend
}

func sharedRenderers(log *slog.Logger) map[string]render.Backend {
	shared.Do(func() { shared.backends = Renderers(log) })
	return shared.backends
}

// RendererNames lists the registry's names, sorted.
func RendererNames() []string { return slices.Sorted(maps.Keys(Renderers(nil))) }

// RendererStatus is what one renderer is on this machine.
type RendererStatus struct {
	Name    string
	Version string // exact version; "" when it does not work here
	Program string // the executable, "" for the built-in renderer or when none was found
	Problem string // why it does not work, "" when it does
}

// ProbeRenderers asks every registered renderer what is installed, as a
// node does at start, and reports them sorted by name.
func ProbeRenderers(ctx context.Context) []RendererStatus {
	backends := Renderers(slog.New(slog.DiscardHandler))
	var out []RendererStatus
	for _, name := range slices.Sorted(maps.Keys(backends)) {
		s := RendererStatus{Name: name}
		switch b := backends[name].(type) {
		case *blender.Backend:
			s.Program = b.Program
		case *povray.Backend:
			s.Program = b.Program
		}
		if info, err := backends[name].Probe(ctx); err != nil {
			s.Problem = render.LastLine(err.Error())
		} else {
			s.Version = info.Version
		}
		out = append(out, s)
	}
	return out
}
