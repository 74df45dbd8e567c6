//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/renderswarm/renderswarm/bench/internal/benchproc"
)

// cost is what one path took: wall time, and CPU time (user + system) of
// every process involved.
type cost struct{ wall, cpu time.Duration }

// figures are one run's measurements for one scene.
type figures struct {
	direct, direct1, render, grid  cost // all frames
	stillDirect, still1, stillTile cost // frame 1
	renderPix, gridPix             string
	tilesPix, tilesDirectPix       string
}

// config is what every run shares.
type config struct {
	bin     string
	tiles   int
	single  bool // also measure direct rendering on one thread
	timeout time.Duration
}

// measure runs every path once for s, in a fresh directory and on a fresh
// grid.
func measure(ctx context.Context, cfg config, s *scene, dir string) (figures, error) {
	var f figures
	var err error
	a := filepath.Join(dir, "direct")
	var per []cost
	if f.direct, per, err = renderDirect(ctx, cfg, s, a, 0); err != nil {
		return f, err
	}
	f.stillDirect = per[0]
	if cfg.single {
		if f.direct1, _, err = renderDirect(ctx, cfg, s, filepath.Join(dir, "direct1"), 1); err != nil {
			return f, err
		}
	}

	b := filepath.Join(dir, "render")
	args := append([]string{"--home", filepath.Join(dir, "render-home"), "render", s.path,
		"--frames", "1-" + strconv.Itoa(s.frames), "-o", b}, s.publishArgs()...)
	cm := startMeter()
	_, f.render.wall, err = benchproc.Run(ctx, cfg.timeout, "", os.Environ(), cfg.bin, args...)
	if f.render.cpu = cm.end(); err != nil {
		return f, err
	}
	f.renderPix = sameFrames(a, b, s.frames)

	g, err := startGrid(ctx, cfg.bin, filepath.Join(dir, "grid"), s.renderer, 2, 1)
	if err != nil {
		return f, fmt.Errorf("starting the grid: %w", err)
	}
	defer g.Stop()
	job := func(title string, extra ...string) (cost, string, error) {
		args := append(s.publishArgs(), "--replicas", "2", "--title", title)
		cm := startMeter()
		st, wall, err := g.publishWait(ctx, cfg.timeout, s.path, append(args, extra...)...)
		cpu := cm.end()
		if err != nil {
			return cost{}, "", fmt.Errorf("%s: %w", title, err)
		}
		out := filepath.Join(dir, title)
		return cost{wall, cpu}, out, g.fetch(ctx, st.ID, out)
	}
	var c, s1, sN string
	if f.grid, c, err = job("animation", "--frames", "1-"+strconv.Itoa(s.frames)); err != nil {
		return f, err
	}
	f.gridPix = sameFrames(a, c, s.frames)
	if f.still1, s1, err = job("still-1-tile", "--frames", "1"); err != nil {
		return f, err
	}
	if f.stillTile, sN, err = job("still-tiles", "--frames", "1", "--tiles", strconv.Itoa(cfg.tiles)); err != nil {
		return f, err
	}
	f.tilesPix = same(filepath.Join(sN, "frame_0001.png"), filepath.Join(s1, "frame_0001.png"))
	f.tilesDirectPix = same(filepath.Join(sN, "frame_0001.png"), filepath.Join(a, "frame_0001.png"))
	return f, nil
}

// renderDirect renders frames 1..n one after another with the plain
// renderer command into out/frame_NNNN.png; threads 0 means all cores.
func renderDirect(ctx context.Context, cfg config, s *scene, out string, threads int) (cost, []cost, error) {
	var total cost
	var per []cost
	for fr := 1; fr <= s.frames; fr++ {
		tmp := filepath.Join(out, fmt.Sprintf(".f%d", fr))
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			return total, nil, err
		}
		dir, args := s.directCmd(fr, tmp, threads)
		cm := startMeter()
		_, wall, err := benchproc.Run(ctx, cfg.timeout, dir, os.Environ(), s.program, args...)
		cpu := cm.end()
		if err != nil {
			return total, nil, err
		}
		total.wall += wall
		total.cpu += cpu
		per = append(per, cost{wall, cpu})
		// Blender writes frame_0001.png, POV-Ray frame<N>.png.
		m, _ := filepath.Glob(filepath.Join(tmp, "*.png"))
		if len(m) != 1 {
			return total, nil, fmt.Errorf("%s frame %d wrote %d images, want 1", s.renderer, fr, len(m))
		}
		if err := os.Rename(m[0], filepath.Join(out, fmt.Sprintf("frame_%04d.png", fr))); err != nil {
			return total, nil, err
		}
		os.Remove(tmp)
	}
	return total, per, nil
}
