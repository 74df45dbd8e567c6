package node

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/internal/roletest"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/publisher"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/scheduler"
	"github.com/renderswarm/renderswarm/work"
)

// stuckRender reports half its work done, then renders nothing until its
// context ends: a long render caught in the middle.
type stuckRender struct{ render.Backend }

func (stuckRender) Render(ctx context.Context, t render.Task, progress func(render.Progress)) (render.Result, error) {
	progress(render.Progress{Fraction: 0.5})
	<-ctx.Done()
	return render.Result{}, context.Cause(ctx)
}

// crashingRender fails the way a renderer that dies does.
type crashingRender struct{ render.Backend }

func (crashingRender) Render(ctx context.Context, t render.Task, progress func(render.Progress)) (render.Result, error) {
	return render.Result{}, errors.New("renderer exited: signal: segmentation fault\nlast words: Segmentation fault (core dumped)")
}

// poll waits (bounded) until cond holds.
func poll(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The publisher sees a render's progress while it runs; pausing the
// volunteer stops the render and hands its lease back (released, not
// failed); nothing is leased while paused; resuming takes work again; the
// pause survives a restart.
func TestVolunteerPauseHandsLeaseBack(t *testing.T) {
	s, scene, ctx := testSwarm(t, 2, func(i int, cfg *Config) {
		if i == 1 {
			cfg.volunteerRenderer = func(b render.Backend) render.Backend { return stuckRender{b} }
		}
	})
	pub, vol := s.nodes[0].pub, s.nodes[1]
	api := volunteerAPI{n: vol}
	id, err := pub.Publish(ctx, publisher.Request{Scene: scene, Frames: "1-2", Width: 48, Height: 27, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	// A second job waits its turn: pausing must not let it take over.
	id2, err := pub.Publish(ctx, publisher.Request{Scene: scene, Frames: "1-2", Width: 48, Height: 27, Replicas: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	poll(t, 20*time.Second, "the volunteer to render", func() bool {
		a := api.Activity()
		return a.State == gui.StateRendering && len(a.Renders) == 1 && a.Renders[0].Progress == 0.5
	})
	r := api.Activity().Renders[0]
	rendering, err := job.ParseID(r.Job)
	if err != nil {
		t.Fatal(err)
	}
	frame := func() publisher.FrameState {
		fs, err := pub.Frames(rendering)
		if err != nil {
			t.Fatal(err)
		}
		return fs[r.Frame-1]
	}
	// The heartbeat (every work.RenewEvery) carries the progress to the
	// publisher.
	poll(t, 2*work.RenewEvery, "the publisher to see the render's progress", func() bool {
		f := frame()
		return f.State == scheduler.TaskRendering && f.Progress == 0.5
	})

	set := api.Settings()
	set.Paused = true
	if _, err := api.UpdateSettings(ctx, set); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, "the lease to be handed back", func() bool {
		return len(api.Activity().Renders) == 0 && frame().State == scheduler.TaskQueued
	})
	if st, _ := pub.Status(rendering); len(st.Errors) != 0 {
		t.Fatalf("a paused render was reported as failed: %+v", st.Errors)
	}
	if a := api.Activity(); a.State != gui.StatePaused {
		t.Fatalf("state while paused = %q", a.State)
	} else if a.UsageKnown != (runtime.GOOS == "linux") {
		t.Errorf("usage_known = %v on %s; the counters come from Linux's /proc only", a.UsageKnown, runtime.GOOS)
	}
	// That a paused volunteer takes no new lease, however long it waits, is
	// volunteer.TestPausedVolunteerTakesNoLease.
	leased := func() int {
		n := 0
		for _, id := range []cid.Cid{id, id2} {
			st, _ := pub.Status(id)
			n += st.Counts.Rendering + st.Counts.Verified
		}
		return n
	}
	before := leased()
	saved, ok, err := loadSettings(vol.db)
	if err != nil || !ok || !saved.Paused {
		t.Fatalf("pause not persisted: %+v ok=%v err=%v", saved, ok, err)
	}

	// Resuming with fewer cores: they take effect from the next task.
	set.Paused, set.CPUs = false, 1
	if _, err := api.UpdateSettings(ctx, set); err != nil {
		t.Fatal(err)
	}
	poll(t, 20*time.Second, "a render with one core after resuming", func() bool {
		a := api.Activity()
		return leased() > before && len(a.Renders) == 1 && a.Renders[0].Threads == 1
	})
}

// A scene that crashes the renderer — the publisher's own calibration
// render as much as the volunteers' — fails the job, with the renderer's
// last words in its status, and the volunteers keep running.
func TestCrashingRenderFailsTheJob(t *testing.T) {
	crash := func(i int, cfg *Config) {
		wrap := func(b render.Backend) render.Backend { return crashingRender{b} }
		cfg.volunteerRenderer, cfg.publisherRenderer = wrap, wrap
	}
	s, scene, ctx := testSwarm(t, 3, crash)
	pub := s.nodes[0].pub
	id, err := pub.Publish(ctx, publisher.Request{Scene: scene, Frames: "1", Width: 48, Height: 27, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := waitDone(ctx, pub, id, nil); err == nil {
		t.Fatal("a job whose renders all crash completed")
	}
	st, _ := pub.Status(id)
	if st.State != scheduler.StateFailed || st.Counts.Failed != 1 {
		t.Fatalf("status = %s with %d failed; want failed, 1", st.State, st.Counts.Failed)
	}
	if len(st.Errors) == 0 || !strings.Contains(st.Errors[0].Reason, "Segmentation fault") {
		t.Fatalf("errors = %+v; want the renderer's crash report", st.Errors)
	}
	for i, n := range s.nodes[1:] {
		if a := (volunteerAPI{n: n}).Activity(); a.State != gui.StateWaiting {
			t.Errorf("volunteer %d after the crash: %q", i+1, a.State)
		}
	}
}

// Two fresh identities reporting every render of a job as failed (a
// saboteur pair) cannot fail it, nor the frames that wait for it: the
// publisher renders the task itself, and it renders.
func TestNewcomersCannotFailAJob(t *testing.T) {
	events := &roletest.Log{}
	s, scene, ctx := testSwarm(t, 3, func(i int, cfg *Config) {
		if i == 0 {
			cfg.Logger = events.Logger()
		} else {
			cfg.volunteerRenderer = func(b render.Backend) render.Backend { return crashingRender{b} }
		}
	})
	pub := s.nodes[0].pub
	id, err := pub.Publish(ctx, publisher.Request{Scene: scene, Frames: "1-4", First: "1", Width: 48, Height: 27, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	poll(t, time.Minute, "both volunteers to report frame 1 failed and the publisher to render it", func() bool {
		st, _ := pub.Status(id)
		return len(st.Errors) >= 2 && events.Count("failureReproduced", "failed=false") >= 1
	})
	st, _ := pub.Status(id)
	if st.State != scheduler.StateRunning || st.Counts.Failed != 0 {
		t.Fatalf("after two fresh identities failed it: %s with %+v; want running, nothing failed", st.State, st.Counts)
	}
}

// Blocking a job in the settings hands back its render in progress.
func TestBlockingAJobHandsItsRenderBack(t *testing.T) {
	s, scene, ctx := testSwarm(t, 2, func(i int, cfg *Config) {
		if i == 1 {
			cfg.volunteerRenderer = func(b render.Backend) render.Backend { return stuckRender{b} }
		}
	})
	pub, api := s.nodes[0].pub, volunteerAPI{n: s.nodes[1]}
	id, err := pub.Publish(ctx, publisher.Request{Scene: scene, Frames: "1", Width: 48, Height: 27, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	poll(t, 20*time.Second, "the volunteer to render", func() bool { return len(api.Activity().Renders) == 1 })
	set := api.Settings()
	set.BlockedJobs = []string{id.String()}
	if _, err := api.UpdateSettings(ctx, set); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, "the render to be handed back", func() bool {
		fs, _ := pub.Frames(id)
		return len(api.Activity().Renders) == 0 && fs[0].State == scheduler.TaskQueued
	})
	if a := api.Activity(); a.State != gui.StateWaiting {
		t.Fatalf("state after blocking the only job = %q", a.State)
	}
}
