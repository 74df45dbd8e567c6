package volunteer

import (
	"context"
	"encoding/json"
	"fmt"
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
	best := time.Duration(0)
	for i := range 2 {
		// A scene folder of its own each time: the reference time includes
		// loading the scene, which the renderer would otherwise keep.
		scene := filepath.Join(dir, fmt.Sprint("scene", i))
		if err := examples.WriteBuiltin(scene); err != nil {
			return 0, err
		}
		t := render.Task{SceneDir: scene, SceneFile: examples.DemoScene, Frame: 1,
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

// speedFile is where a node keeps the fastest speed it measured, per
// renderer version: claims stay comparable across restarts, and a start
// on a busy machine does not lower them.
const speedFile = "speed.json"

// KeepSpeed returns the fastest of measured and the speed kept in dir for
// version, and keeps that.
func KeepSpeed(dir, version string, measured float64) (float64, error) {
	kept := map[string]float64{}
	path := filepath.Join(dir, speedFile)
	if b, err := os.ReadFile(path); err == nil {
		json.Unmarshal(b, &kept) // unreadable: measured again
	}
	if s := kept[version]; s > measured && s < 1e3 {
		return s, nil
	}
	kept[version] = measured
	b, err := json.Marshal(kept)
	if err != nil {
		return measured, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return measured, err
	}
	return measured, os.Rename(tmp, path)
}
