package render

import "github.com/renderswarm/renderswarm/job"

// TaskFor is the one mapping from a job's manifest and task to what a
// backend renders: volunteers render it, and the publisher renders crops of
// it to check their results, so both read a manifest the same way.
func TaskFor(m job.Manifest, t job.Task, sceneDir, outDir string, threads int) Task {
	rt := Task{
		SceneDir:  sceneDir,
		SceneFile: m.Scene.Main,
		Frame:     t.Frame,
		Width:     m.Width,
		Height:    m.Height,
		Samples:   m.Samples,
		Seed:      uint64(m.Seed),
		OutputDir: outDir,
		Threads:   threads,
		// The manifest's memory limit; a volunteer lowers it to its own
		// cap before rendering.
		MemoryLimit: int64(m.Limits.MaxMemoryMiB) << 20,
		Extras:      m.Extras(),
	}
	if m.TileCount() > 1 {
		r := m.TileRect(t.Tile)
		rt.Border = &Rect{X0: r.Min.X, Y0: r.Min.Y, X1: r.Max.X, Y1: r.Max.Y}
	}
	return rt
}
