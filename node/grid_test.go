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

// A volunteer whose renderer returns wrong images gets none of them
// accepted and earns nothing; the honest volunteers finish the job and are
// paid.
func TestCheatingVolunteerEarnsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process swarm of four nodes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	sceneDir := filepath.Join(tmp, "scene")
	if err := examples.WriteBuiltin(sceneDir); err != nil {
		t.Fatal(err)
	}
	const cheater = 1
	s, err := startSwarm(ctx, tmp, DemoConfig{Nodes: 4, Logger: slog.New(slog.DiscardHandler)}, func(i int, n *node) {
		if i == cheater {
			n.vol.backends = map[string]render.Backend{"builtin": brightener{n.vol.backends["builtin"]}}
		}
	})
	defer s.stop()
	if err != nil {
		t.Fatal(err)
	}
	pub := s.nodes[0].pub
	id, err := pub.Publish(ctx, PublishRequest{Scene: filepath.Join(sceneDir, examples.DemoScene),
		Frames: "1-6", Width: 64, Height: 36, Replicas: 2})
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
