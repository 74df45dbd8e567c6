package publisher

import (
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/internal/roletest"
	"github.com/renderswarm/renderswarm/scheduler"
)

// BenchmarkFramesLargeJob measures the frame grid of a 100,000-frame job
// (the web app asks for it every second while it is open), and how long
// the publisher's hot path waits on the job's and its coordinator's locks
// meanwhile (go test -run '^$' -bench FramesLargeJob ./publisher).
func BenchmarkFramesLargeJob(b *testing.B) {
	tb := newTestbed(b, nil)
	m := tb.publish("1-100000", 2)
	id, _ := m.ID()
	j := tb.job(id)
	var held time.Duration
	for b.Loop() {
		stop := make(chan time.Duration)
		go func() {
			// What a delivery waits for while the grid is made.
			var worst time.Duration
			for {
				select {
				case <-stop:
					stop <- worst
					return
				default:
				}
				t0 := time.Now()
				j.mu.Lock()
				j.coord.Progress()
				j.mu.Unlock()
				worst = max(worst, time.Since(t0))
				time.Sleep(100 * time.Microsecond)
			}
		}()
		fs, err := tb.p.Frames(id)
		if err != nil || len(fs) != 100_000 || fs[0].State != scheduler.TaskQueued {
			b.Fatalf("%d frames, %v", len(fs), err)
		}
		stop <- 0
		held = max(held, <-stop)
	}
	b.ReportMetric(float64(held.Microseconds()), "worst-lock-wait-µs")
}

// The frame grid merges each frame's tiles: a frame with a tile leased is
// rendering, the others queued; the grid follows the frames, not the
// tasks.
func TestFramesMergeTiles(t *testing.T) {
	tb := newTestbed(t, nil)
	tb.p.cfg.Tune = func(c *scheduler.Config) { c.PickWindow = 1 } // leases in work order
	id, err := tb.p.Publish(t.Context(), Request{Scene: tb.scene, Frames: "3-5", Tiles: 4, Replicas: 1, Width: 32, Height: 18, Samples: 1})
	if err != nil {
		t.Fatal(err)
	}
	j := tb.job(id)
	leased := map[int]bool{}
	j.mu.Lock()
	for range 5 { // frame 3's four tiles and frame 4's first
		_, v := roletest.Identity(t)
		l, err := j.coord.Lease(tb.clock.Now(), v, "")
		if err != nil {
			j.mu.Unlock()
			t.Fatal(err)
		}
		leased[l.Task.Frame] = true
	}
	j.mu.Unlock()
	fs, err := tb.p.Frames(id)
	if err != nil || len(fs) != 3 {
		t.Fatalf("Frames = %+v, %v; want 3 frames", fs, err)
	}
	for k, f := range fs {
		want := scheduler.TaskQueued
		if leased[f.Frame] {
			want = scheduler.TaskRendering
		}
		if f.Frame != 3+k || f.State != want {
			t.Errorf("frame %d is %s (frames with a tile leased: %v); want frame %d %s", f.Frame, f.State, leased, 3+k, want)
		}
	}
}
