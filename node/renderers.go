package node

import (
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/render/blender"
	"github.com/renderswarm/renderswarm/render/builtin"
	"github.com/renderswarm/renderswarm/render/povray"
)

// Renderers is the explicit registry of renderer backends by name: the list
// is reportable (peers, GUI, `renderswarm render --renderer`) and nothing
// registers itself from an init function.
func Renderers() map[string]render.Backend {
	return map[string]render.Backend{
		builtin.Name: builtin.New(),
		povray.Name:  povray.New(),
		blender.Name: blender.New(),
	}
}
