package node

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/examples"
	"github.com/renderswarm/renderswarm/publisher"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/render/builtin"
	"github.com/renderswarm/renderswarm/scheduler"
)

// trusted makes every volunteer established with a coin that never asks
// for a second replica: one volunteer, one replica.
func trusted(cfg *scheduler.Config) {
	cfg.Standing = func(peer.ID) scheduler.Standing {
		return scheduler.Standing{Verified: 1000, Jobs: 100, ConsecutiveValid: 1000}
	}
	cfg.Rand = io.MultiReader(bytes.NewReader(bytes.Repeat([]byte{0xff}, 1<<20)))
}

func benchSwarm(b *testing.B, nodes, cpus int) (*swarm, string, context.Context) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b.Cleanup(cancel)
	tmp := b.TempDir()
	if err := examples.WriteBuiltin(filepath.Join(tmp, "scene")); err != nil {
		b.Fatal(err)
	}
	s, err := startSwarm(ctx, tmp, DemoConfig{Nodes: nodes, Logger: slog.New(slog.DiscardHandler)}, func(i int, cfg *Config) {
		if i == 0 {
			cfg.tune = trusted
		} else {
			cfg.CPUs = cpus
		}
	})
	b.Cleanup(s.stop)
	if err != nil {
		b.Fatal(err)
	}
	return s, filepath.Join(tmp, "scene", examples.DemoScene), ctx
}

// BenchmarkGridOverhead: one volunteer, one replica, 8 demo frames through
// the grid (publish, gossip, lease, fetch scene, render, commit, deliver,
// fetch result, verify, receipt) against the same frames rendered directly
// with the same thread count. Reports overhead = grid / direct.
func BenchmarkGridOverhead(b *testing.B) {
	const frames = "1-8"
	cpus := runtime.NumCPU()
	s, scene, ctx := benchSwarm(b, 2, cpus)
	pub := s.nodes[0].pub
	var grid, direct time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		id, err := pub.Publish(ctx, publisher.Request{Scene: scene, Frames: frames, Replicas: 1, Seed: i})
		if err != nil {
			b.Fatal(err)
		}
		if err := waitDoneFast(ctx, pub, id); err != nil {
			b.Fatal(err)
		}
		grid += time.Since(start)

		out := b.TempDir()
		start = time.Now()
		for f := 1; f <= 8; f++ {
			t := render.Task{SceneDir: filepath.Dir(scene), SceneFile: filepath.Base(scene), Frame: f,
				Width: 320, Height: 180, Samples: 8, Seed: uint64(i), OutputDir: out, Threads: cpus}
			if _, err := builtin.New().Render(ctx, t, nil); err != nil {
				b.Fatal(err)
			}
		}
		direct += time.Since(start)
		os.RemoveAll(out)
	}
	b.ReportMetric(grid.Seconds()/float64(b.N), "grid-s/job")
	b.ReportMetric(direct.Seconds()/float64(b.N), "direct-s/job")
	b.ReportMetric(grid.Seconds()/direct.Seconds(), "overhead")
}

// waitDoneFast polls a job every 5 ms until it completes.
func waitDoneFast(ctx context.Context, p *publisher.Publisher, id cid.Cid) error {
	for {
		if st, err := p.Status(id); err != nil || st.State == scheduler.StateCompleted {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// BenchmarkPublishToFirstLease: from the call to Publish (packing the scene,
// signing, announcing) to the first lease handed to a volunteer that learnt
// of the job by gossip.
func BenchmarkPublishToFirstLease(b *testing.B) {
	s, scene, ctx := benchSwarm(b, 3, 1)
	pub := s.nodes[0].pub
	var total time.Duration
	for i := 0; b.Loop(); i++ {
		published := time.Now()
		id, err := pub.Publish(ctx, publisher.Request{Scene: scene, Frames: "1", Width: 32, Height: 18, Replicas: 2, Seed: i})
		if err != nil {
			b.Fatal(err)
		}
		for {
			st, _ := pub.Status(id)
			if first := st.FirstLease; !first.IsZero() {
				total += first.Sub(published)
				break
			}
			if time.Since(published) > 30*time.Second {
				b.Fatal("no lease within 30s of publishing")
			}
			time.Sleep(time.Millisecond)
		}
		if err := waitDoneFast(ctx, pub, id); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(total.Seconds()*1000/float64(b.N), "ms-to-first-lease")
}
