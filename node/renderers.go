package node

import (
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/render/blender"
	"github.com/renderswarm/renderswarm/render/builtin"
	"github.com/renderswarm/renderswarm/render/povray"
)

// Renderers is the explicit registry of renderer backends by name: the list
// is reportable (peers, GUI, `renderswarm render --renderer`) and nothing
// registers itself from an init function. The backends log to log (nil:
// slog.Default()).
func Renderers(log *slog.Logger) map[string]render.Backend {
	return map[string]render.Backend{
		builtin.Name: builtin.New(),
		povray.Name:  &povray.Backend{Logger: log},
		blender.Name: &blender.Backend{Logger: log},
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
