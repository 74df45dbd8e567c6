package node

import (
	"log/slog"
	"maps"
	"slices"

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

// RendererNames lists the registry's names, sorted.
func RendererNames() []string { return slices.Sorted(maps.Keys(Renderers(nil))) }
