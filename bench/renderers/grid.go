//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/renderswarm/renderswarm/bench/internal/benchproc"
	"github.com/renderswarm/renderswarm/gui"
)

// grid is a publisher that renders nothing and its volunteers.
type grid struct{ *benchproc.Grid }

// startGrid starts the publisher and n volunteers (benchproc.StartGrid).
func startGrid(ctx context.Context, bin, dir, renderer string, n, cpus int) (*grid, error) {
	g, err := benchproc.StartGrid(ctx, bin, dir, renderer, n, cpus, nil)
	if err != nil {
		return nil, err
	}
	return &grid{g}, nil
}

// publishWait runs `renderswarm publish SCENE ARGS --wait --json` on the
// publisher and returns the final status, the wall time from the command's
// start (packing, signing, announcing included) to its exit after every
// task was verified (`publish --wait` polls every 500 ms).
func (g *grid) publishWait(ctx context.Context, timeout time.Duration, scene string, args ...string) (gui.JobStatus, time.Duration, error) {
	var st gui.JobStatus
	out, took, err := g.Pub.CLI(ctx, timeout, append([]string{"publish", scene, "--wait", "--json"}, args...)...)
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
	out, _, err := g.Pub.CLI(ctx, 15*time.Second, "status", id, "--json")
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
	_, _, err := g.Pub.CLI(ctx, 2*time.Minute, "fetch", id, "-o", dir)
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
	defer g.Stop()
	args := append(sc.publishArgs(), "--frames", "1", "--replicas", "1", "--json")
	start := time.Now()
	out, _, err := g.Pub.CLI(ctx, 2*time.Minute, append([]string{"publish", sc.path}, args...)...)
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
	g.Pub.CLI(ctx, 15*time.Second, "cancel", id)
	return st, took, ctx.Err()
}
