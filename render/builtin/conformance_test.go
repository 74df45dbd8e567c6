package builtin

import (
	"testing"

	"github.com/renderswarm/renderswarm/render/rendertest"
)

func TestConformance(t *testing.T) {
	rendertest.Run(t, rendertest.Suite{
		Backend:  New(),
		SceneDir: "testdata", SceneFile: "anim.scene",
		FrameA: 1, FrameB: 10,
		Width: 48, Height: 32, Samples: 4,
		SlowSamples: 4096,
	})
}
