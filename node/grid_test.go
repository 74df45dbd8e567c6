package node

import (
	"context"
	"image"
	"image/draw"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/examples"
	"github.com/renderswarm/renderswarm/internal/imaging"
	"github.com/renderswarm/renderswarm/publisher"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/scheduler"
)

// brightener renders honestly, then adds 2/255 to every channel: a cheat
// that looks identical to a person and that verification must catch.
type brightener struct{ render.Backend }

func (b brightener) Render(ctx context.Context, t render.Task, progress func(render.Progress)) (render.Result, error) {
	res, err := b.Backend.Render(ctx, t, progress)
	if err != nil {
		return res, err
	}
	img, err := imaging.LoadPNG(res.Path)
	if err != nil {
		return res, err
	}
	out := image.NewNRGBA(img.Bounds())
	draw.Draw(out, out.Bounds(), img, img.Bounds().Min, draw.Src)
	for i := range out.Pix {
		if i%4 != 3 {
			out.Pix[i] = uint8(min(int(out.Pix[i])+2, 255))
		}
	}
	f, err := os.Create(res.Path)
	if err != nil {
		return res, err
	}
	defer f.Close()
	return res, png.Encode(f, out)
}

// testSwarm runs an in-process swarm of n nodes (node 0 publishes) for the
// test and returns it with the demo scene's path.
func testSwarm(t *testing.T, n int, tweak func(int, *Config)) (*swarm, string, context.Context) {
	t.Helper()
	if testing.Short() {
		t.Skip("in-process swarm; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	tmp := t.TempDir()
	sceneDir := filepath.Join(tmp, "scene")
	if err := examples.WriteBuiltin(sceneDir); err != nil {
		t.Fatal(err)
	}
	lg := slog.New(slog.DiscardHandler)
	if os.Getenv("RS_DEBUG") != "" {
		lg = slog.Default()
	}
	s, err := startSwarm(ctx, tmp, DemoConfig{Nodes: n, Logger: lg}, tweak)
	t.Cleanup(s.stop)
	if err != nil {
		t.Fatal(err)
	}
	return s, filepath.Join(sceneDir, examples.DemoScene), ctx
}

// A volunteer whose renderer returns wrong images gets none of them
// accepted and earns nothing; the honest volunteers finish the job and are
// paid.
func TestCheatingVolunteerEarnsNothing(t *testing.T) {
	const cheater = 1
	s, scene, ctx := testSwarm(t, 4, func(i int, cfg *Config) {
		if i == cheater {
			cfg.volunteerRenderer = func(b render.Backend) render.Backend { return brightener{b} }
		}
	})
	pub := s.nodes[0].pub
	id, err := pub.Publish(ctx, publisher.Request{Scene: scene, Frames: "1-6", Width: 64, Height: 36, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := waitDone(ctx, pub, id, nil); err != nil {
		t.Fatalf("job did not complete despite a cheater: %v", err)
	}
	s.waitReceipts(ctx, 15*time.Second)
	report := s.report(id)
	if report[cheater].Accepted != 0 || report[cheater].Earned != 0 {
		t.Fatalf("cheater: %d results accepted, earned %d mCU; want none", report[cheater].Accepted, report[cheater].Earned)
	}
	// It was caught, not merely outvoted: the publisher struck it, which
	// puts it back on probation for every job of this publisher.
	standings, err := s.nodes[0].ledger.Standings()
	if err != nil {
		t.Fatal(err)
	}
	if rec := standings[s.nodes[cheater].net.ID()]; rec.LastStrike.IsZero() {
		t.Errorf("the cheater has no strike at the publisher: %+v", rec)
	}
	for _, i := range []int{2, 3} {
		if rec := standings[s.nodes[i].net.ID()]; !rec.LastStrike.IsZero() {
			t.Errorf("honest volunteer %d struck at %v", i, rec.LastStrike)
		}
	}
	for _, i := range []int{2, 3} {
		if report[i].Accepted == 0 || report[i].Earned <= 0 {
			t.Errorf("honest volunteer %d: %d accepted, earned %d mCU", i, report[i].Accepted, report[i].Earned)
		}
	}
}

// A volunteer never renders for a publisher its user blocked.
func TestBlockedPublisherGetsNoWork(t *testing.T) {
	const blocker = 1
	s, scene, ctx := testSwarm(t, 4, nil)
	api := volunteerAPI{n: s.nodes[blocker]}
	set := api.Settings()
	set.BlockedPublishers = []string{s.nodes[0].net.ID().String()}
	if _, err := api.UpdateSettings(ctx, set); err != nil {
		t.Fatal(err)
	}
	pub := s.nodes[0].pub
	id, err := pub.Publish(ctx, publisher.Request{Scene: scene, Frames: "1-4", Width: 48, Height: 27, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := waitDone(ctx, pub, id, nil); err != nil {
		t.Fatal(err)
	}
	if got := s.report(id)[blocker].Accepted; got != 0 {
		t.Fatalf("a volunteer that blocked the publisher rendered %d of its tasks", got)
	}
}

// Pausing a job shows in its state (that nothing new is leased meanwhile
// is publisher.TestPausedJobLeasesNothing); resuming completes the job; a
// canceled job cannot be resumed.
func TestPauseResumeCancel(t *testing.T) {
	s, scene, ctx := testSwarm(t, 3, nil)
	pub := s.nodes[0].pub
	id, err := pub.Publish(ctx, publisher.Request{Scene: scene, Frames: "1-12", Width: 96, Height: 54, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Control(ctx, id, publisher.Pause); err != nil {
		t.Fatal(err)
	}
	if st, _ := pub.Status(id); st.State != scheduler.StatePaused {
		t.Fatalf("paused job: state %s", st.State)
	}
	if err := pub.Control(ctx, id, publisher.Resume); err != nil {
		t.Fatal(err)
	}
	if err := waitDone(ctx, pub, id, nil); err != nil {
		t.Fatalf("resumed job: %v", err)
	}

	id2, err := pub.Publish(ctx, publisher.Request{Scene: scene, Frames: "1-12", Width: 96, Height: 54, Replicas: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Control(ctx, id2, publisher.Cancel); err != nil {
		t.Fatal(err)
	}
	if st, _ := pub.Status(id2); st.State != scheduler.StateCanceled {
		t.Fatalf("state after cancel = %s", st.State)
	}
	if err := pub.Control(ctx, id2, publisher.Resume); err == nil {
		t.Fatal("a canceled job was resumed")
	}
}

// With first frames, no other frame is leased before they are verified.
func TestFirstFramesGoFirst(t *testing.T) {
	s, scene, ctx := testSwarm(t, 4, nil)
	pub := s.nodes[0].pub
	id, err := pub.Publish(ctx, publisher.Request{Scene: scene, Frames: "1-6", First: "6", Width: 48, Height: 27, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := pub.Status(id)
		if err != nil {
			t.Fatal(err)
		}
		counts := st.Counts
		if counts.Verified > 0 {
			if frames, _ := pub.Frames(id); frames[5].State != scheduler.TaskVerified {
				t.Fatalf("a frame was verified before the first frame: %+v", frames)
			}
			break
		}
		// Before frame 6 is verified only its own task may be in flight.
		if counts.Rendering > 1 {
			t.Fatalf("other frames started before the first frame was verified: %+v", counts)
		}
		if time.Now().After(deadline) {
			t.Fatal("first frame not verified within a minute")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := waitDone(ctx, pub, id, nil); err != nil {
		t.Fatal(err)
	}
}

// Two colluding volunteers return the same wrong image, so they agree with
// each other exactly; only the publisher's own crop check can catch them.
// None of their results is accepted and they earn nothing.
func TestColludersAreCaughtByCropChecks(t *testing.T) {
	colluders := map[int]bool{1: true, 2: true}
	s, scene, ctx := testSwarm(t, 5, func(i int, cfg *Config) {
		if colluders[i] {
			cfg.volunteerRenderer = func(b render.Backend) render.Backend { return brightener{b} }
		}
	})
	pub := s.nodes[0].pub
	id, err := pub.Publish(ctx, publisher.Request{Scene: scene, Frames: "1-8", Width: 64, Height: 36, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := waitDone(ctx, pub, id, nil); err != nil {
		t.Fatalf("job did not complete despite colluders: %v", err)
	}
	s.waitReceipts(ctx, 15*time.Second)
	report := s.report(id)
	for i := range colluders {
		if report[i].Accepted != 0 || report[i].Earned != 0 {
			t.Errorf("colluder %d: %d results accepted, earned %d mCU; want none", i, report[i].Accepted, report[i].Earned)
		}
	}
}
