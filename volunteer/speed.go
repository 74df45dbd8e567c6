package volunteer

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/examples"
	"github.com/renderswarm/renderswarm/internal/clock"
	"github.com/renderswarm/renderswarm/render"
)

// referenceSeconds is how long the speed benchmark takes on the reference
// machine: one core of this project's CI machine (2026, x86-64), where the
// built-in renderer traces about 0.8 M samples per second. 1 CU is one
// second of that core's rendering.
const referenceSeconds = 0.144

// MeasureSpeed renders a small frame of the embedded demo scene on one
// thread with the built-in renderer b (best of two) and returns this
// machine's speed relative to the reference, which turns render seconds
// into compute units. c times the renders (the wall clock in a node).
func MeasureSpeed(ctx context.Context, b render.Backend, tmp string, c clock.Clock) (float64, error) {
	dir, err := os.MkdirTemp(tmp, "bench-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	if err := examples.WriteBuiltin(filepath.Join(dir, "scene")); err != nil {
		return 0, err
	}
	best := time.Duration(0)
	for range 2 {
		t := render.Task{SceneDir: filepath.Join(dir, "scene"), SceneFile: examples.DemoScene, Frame: 1,
			Width: 160, Height: 90, Samples: 8, OutputDir: dir, Threads: 1}
		start := c.Now()
		if _, err := b.Render(ctx, t, nil); err != nil {
			return 0, err
		}
		if d := c.Now().Sub(start); best == 0 || d < best {
			best = d
		}
	}
	return credits.Speed(referenceSeconds, best.Seconds()), nil
}
