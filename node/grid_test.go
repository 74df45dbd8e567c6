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

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/examples"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/render"
)

// brightener renders honestly, then adds 2/255 to every channel: a cheat
// that looks identical to a person and that verification must catch.
type brightener struct{ render.Backend }

func (b brightener) Render(ctx context.Context, t render.Task, progress func(render.Progress)) (render.Result, error) {
	res, err := b.Backend.Render(ctx, t, progress)
	if err != nil {
		return res, err
	}
	img, err := loadPNG(res.Path)
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
func testSwarm(t *testing.T, n int, tweak func(int, *node)) (*swarm, string, context.Context) {
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
	s, err := startSwarm(ctx, tmp, DemoConfig{Nodes: n, Logger: slog.New(slog.DiscardHandler)}, tweak)
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
	s, scene, ctx := testSwarm(t, 4, func(i int, n *node) {
		if i == cheater {
			n.vol.backends = map[string]render.Backend{"builtin": brightener{n.vol.backends["builtin"]}}
		}
	})
	pub := s.nodes[0].pub
	id, err := pub.Publish(ctx, PublishRequest{Scene: scene, Frames: "1-6", Width: 64, Height: 36, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	j, _ := pub.job(id.String())
	if err := waitDone(ctx, pub, j, nil); err != nil {
		t.Fatalf("job did not complete despite a cheater: %v", err)
	}
	s.waitReceipts(ctx, 15*time.Second)
	report := s.report(j)
	if report[cheater].Accepted != 0 || report[cheater].Earned != 0 {
		t.Fatalf("cheater: %d results accepted, earned %d mCU; want none", report[cheater].Accepted, report[cheater].Earned)
	}
	for _, i := range []int{2, 3} {
		if report[i].Accepted == 0 || report[i].Earned <= 0 {
			t.Errorf("honest volunteer %d: %d accepted, earned %d mCU", i, report[i].Accepted, report[i].Earned)
		}
	}
	j.mu.Lock()
	blocked := j.coord.Blocked(s.nodes[cheater].net.ID())
	j.mu.Unlock()
	t.Logf("cheater blocklisted: %v", blocked)
}

// A volunteer never renders for a publisher its user blocked.
func TestBlockedPublisherGetsNoWork(t *testing.T) {
	const blocker = 1
	s, scene, ctx := testSwarm(t, 4, nil)
	s.nodes[blocker].vol.offers.picker.SetBlocked([]peer.ID{s.nodes[0].net.ID()}, nil)
	pub := s.nodes[0].pub
	id, err := pub.Publish(ctx, PublishRequest{Scene: scene, Frames: "1-4", Width: 48, Height: 27, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	j, _ := pub.job(id.String())
	if err := waitDone(ctx, pub, j, nil); err != nil {
		t.Fatal(err)
	}
	if got := s.report(j)[blocker].Accepted; got != 0 {
		t.Fatalf("a volunteer that blocked the publisher rendered %d of its tasks", got)
	}
}

// Pausing stops new leases (work in flight finishes); resuming completes
// the job; a canceled job hands out nothing and cannot be resumed.
func TestPauseResumeCancel(t *testing.T) {
	s, scene, ctx := testSwarm(t, 3, nil)
	pub := s.nodes[0].pub
	id, err := pub.Publish(ctx, PublishRequest{Scene: scene, Frames: "1-12", Width: 96, Height: 54, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	j, _ := pub.job(id.String())
	if err := pub.control(ctx, id.String(), "pause"); err != nil {
		t.Fatal(err)
	}
	// Work leased before the pause may still finish; nothing new is leased.
	leased := func() int {
		j.mu.Lock()
		defer j.mu.Unlock()
		return j.leased
	}
	before := leased()
	time.Sleep(2 * time.Second)
	if now := pub.status(j); now.State != "paused" || leased() != before {
		t.Fatalf("paused job: state %s, leases %d then %d; want paused and no new leases", now.State, before, leased())
	}
	if err := pub.control(ctx, id.String(), "resume"); err != nil {
		t.Fatal(err)
	}
	if err := waitDone(ctx, pub, j, nil); err != nil {
		t.Fatalf("resumed job: %v", err)
	}

	id2, err := pub.Publish(ctx, PublishRequest{Scene: scene, Frames: "1-12", Width: 96, Height: 54, Replicas: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.control(ctx, id2.String(), "cancel"); err != nil {
		t.Fatal(err)
	}
	j2, _ := pub.job(id2.String())
	if st := pub.status(j2); st.State != "canceled" {
		t.Fatalf("state after cancel = %s", st.State)
	}
	if err := pub.control(ctx, id2.String(), "resume"); err == nil {
		t.Fatal("a canceled job was resumed")
	}
}

// With first frames, no other frame is leased before they are verified.
func TestFirstFramesGoFirst(t *testing.T) {
	s, scene, ctx := testSwarm(t, 4, nil)
	pub := s.nodes[0].pub
	id, err := pub.Publish(ctx, PublishRequest{Scene: scene, Frames: "1-6", First: "6", Width: 48, Height: 27, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	j, _ := pub.job(id.String())
	first := job.Task{Job: id, Frame: 6}
	deadline := time.Now().Add(time.Minute)
	for {
		j.mu.Lock()
		_, _, firstDone := j.coord.Accepted(first)
		counts := j.coord.Progress()
		j.mu.Unlock()
		if firstDone {
			break
		}
		// Before frame 6 is verified only its own task may be in flight.
		if counts.Rendering > 1 || counts.Verified > 0 {
			t.Fatalf("other frames started before the first frame was verified: %+v", counts)
		}
		if time.Now().After(deadline) {
			t.Fatal("first frame not verified within a minute")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := waitDone(ctx, pub, j, nil); err != nil {
		t.Fatal(err)
	}
}

// Two colluding volunteers return the same wrong image, so they agree with
// each other exactly; only the publisher's own crop check can catch them.
// None of their results is accepted and they earn nothing.
func TestColludersAreCaughtByCropChecks(t *testing.T) {
	colluders := map[int]bool{1: true, 2: true}
	s, scene, ctx := testSwarm(t, 5, func(i int, n *node) {
		if colluders[i] {
			n.vol.backends = map[string]render.Backend{"builtin": brightener{n.vol.backends["builtin"]}}
		}
	})
	pub := s.nodes[0].pub
	id, err := pub.Publish(ctx, PublishRequest{Scene: scene, Frames: "1-8", Width: 64, Height: 36, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	j, _ := pub.job(id.String())
	if err := waitDone(ctx, pub, j, nil); err != nil {
		t.Fatalf("job did not complete despite colluders: %v", err)
	}
	s.waitReceipts(ctx, 15*time.Second)
	report := s.report(j)
	for i := range colluders {
		if report[i].Accepted != 0 || report[i].Earned != 0 {
			t.Errorf("colluder %d: %d results accepted, earned %d mCU; want none", i, report[i].Accepted, report[i].Earned)
		}
	}
}
