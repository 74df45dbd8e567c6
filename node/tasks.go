package node

import (
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/render"
)

// renderTask is the one mapping from a job's manifest and task to what a
// backend renders. Volunteers and `renderswarm render` both use it, so the
// grid's frames equal local renders with the same settings.
func renderTask(m job.Manifest, t job.Task, sceneDir, outDir string, threads int) render.Task {
	rt := render.Task{
		SceneDir:  sceneDir,
		SceneFile: m.Scene.Main,
		Frame:     t.Frame,
		Width:     m.Width,
		Height:    m.Height,
		Samples:   m.Samples,
		Seed:      uint64(m.Seed),
		OutputDir: outDir,
		Threads:   threads,
	}
	if m.TileCount() > 1 {
		r := m.TileRect(t.Tile)
		rt.Border = &render.Rect{X0: r.Min.X, Y0: r.Min.Y, X1: r.Max.X, Y1: r.Max.Y}
	}
	return rt
}
