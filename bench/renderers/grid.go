//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/renderswarm/renderswarm/gui"
)

// grid is a publisher that renders nothing and its volunteers, each a
// separate process with its own home.
type grid struct {
	pub  *node
	vols []*node
}

// startGrid starts the publisher, then n volunteers (each rendering with
// cpus cores; 0: all) bootstrapped from it, and waits until the publisher
// sees all of them offering renderer.
func startGrid(ctx context.Context, bin, dir, renderer string, n, cpus int) (*grid, error) {
	g := &grid{}
	pub, err := startNode(ctx, bin, dir, "publisher", "--no-volunteer")
	if err != nil {
		return nil, err
	}
	g.pub = pub
	boot, err := pub.tcpAddr()
	if err != nil {
		g.stop()
		return nil, err
	}
	for i := range n {
		extra := []string{"--bootstrap", boot}
		if cpus > 0 {
			extra = append(extra, "--cpus", strconv.Itoa(cpus))
		}
		v, err := startNode(ctx, bin, dir, fmt.Sprintf("volunteer%d", i+1), extra...)
		if err != nil {
			g.stop()
			return nil, err
		}
		g.vols = append(g.vols, v)
	}
	if err := pub.waitPeers(ctx, renderer, n); err != nil {
		g.stop()
		return nil, err
	}
	return g, nil
}

// stop stops the volunteers, then the publisher (SIGINT, then SIGKILL).
func (g *grid) stop() {
	for _, v := range g.vols {
		v.stop()
	}
	if g.pub != nil {
		g.pub.stop()
	}
}

// publishWait runs `renderswarm publish SCENE ARGS --wait --json` on the
// publisher and returns the final status, the wall time from the command's
// start (packing, signing, announcing included) to its exit after every
// task was verified (`publish --wait` polls every 500 ms).
func (g *grid) publishWait(ctx context.Context, timeout time.Duration, scene string, args ...string) (gui.JobStatus, time.Duration, error) {
	var st gui.JobStatus
	out, took, err := g.pub.cli(ctx, timeout, append([]string{"publish", scene, "--wait", "--json"}, args...)...)
	if err != nil {
		return st, took, err
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, took, fmt.Errorf("publish --json printed %q: %v", out, err)
	}
	if st.State != "completed" {
		return st, took, fmt.Errorf("job %s ended %s", st.ID, st.State)
	}
	return st, took, nil
}

// status is `renderswarm status JOB --json` on the publisher.
func (g *grid) status(ctx context.Context, id string) (gui.JobStatus, error) {
	var st gui.JobStatus
	out, _, err := g.pub.cli(ctx, 15*time.Second, "status", id, "--json")
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal([]byte(out), &st)
}

// fetch writes a job's verified frames (tiles stitched) to dir.
func (g *grid) fetch(ctx context.Context, id, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	_, _, err := g.pub.cli(ctx, 2*time.Minute, "fetch", id, "-o", dir)
	return err
}

// probeAdaptive publishes one frame with --replicas 1 to a grid of one
// new volunteer and watches it for at most bound: under adaptive
// replication a new volunteer's every task is replicated, and a replica
// never goes to the same peer twice, so with one volunteer the task cannot
// be verified. It returns the last status and how long it waited.
func probeAdaptive(ctx context.Context, bin, dir string, sc *scene, bound time.Duration) (gui.JobStatus, time.Duration, error) {
	var st gui.JobStatus
	g, err := startGrid(ctx, bin, dir, sc.renderer, 1, 0)
	if err != nil {
		return st, 0, err
	}
	defer g.stop()
	args := append(sc.publishArgs(), "--frames", "1", "--replicas", "1", "--json")
	start := time.Now()
	out, _, err := g.pub.cli(ctx, 2*time.Minute, append([]string{"publish", sc.path}, args...)...)
	if err != nil {
		return st, 0, err
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, 0, fmt.Errorf("publish --json printed %q: %v", out, err)
	}
	id := st.ID
	for time.Since(start) < bound {
		if s, err := g.status(ctx, id); err == nil {
			st = s
		}
		if st.State == "completed" || st.State == "failed" || ctx.Err() != nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	took := time.Since(start)
	g.pub.cli(ctx, 15*time.Second, "cancel", id)
	return st, took, ctx.Err()
}
