package node

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/examples"
	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/internal/imaging"
	"github.com/renderswarm/renderswarm/publisher"
	"github.com/renderswarm/renderswarm/scheduler"
	"github.com/renderswarm/renderswarm/work"
)

// DemoConfig configures Demo. Zero values are documented per field.
type DemoConfig struct {
	Out    string // output directory; required
	Nodes  int    // nodes in the swarm, one of them the publisher; 0 means 4, at least 3
	Frames string // frame spec; empty means the demo scene's own (1-24)
	Logger *slog.Logger
	// Progress, if set, is called about twice a second while the job runs.
	Progress func(gui.JobStatus)
}

// DemoNode is one demo node's outcome.
type DemoNode struct {
	PeerID   string
	Role     string // "publisher" or "volunteer"
	Balance  int64  // milli-CU
	Earned   int64
	Spent    int64
	Accepted int // results of this node accepted
}

// DemoResult is what Demo produced.
type DemoResult struct {
	Job     string
	Frames  []string // the verified frames
	Sheet   string   // contact sheet PNG
	Preview string   // animated GIF
	Nodes   []DemoNode
	Elapsed time.Duration
}

// Demo starts a swarm of real nodes in this process (libp2p on loopback,
// torrents, the work protocol, verification, each node with its own home in
// a temporary directory), publishes the built-in demo scene from the first
// node with two replicas per frame, and writes the verified frames, a
// contact sheet and an animated preview to cfg.Out.
func Demo(ctx context.Context, cfg DemoConfig) (DemoResult, error) {
	start := time.Now()
	if cfg.Nodes == 0 {
		cfg.Nodes = 4
	}
	if cfg.Nodes < 3 {
		return DemoResult{}, fmt.Errorf("a demo needs at least 3 nodes (a publisher and two volunteers), not %d", cfg.Nodes)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tmp, err := os.MkdirTemp("", "renderswarm-demo-")
	if err != nil {
		return DemoResult{}, err
	}
	defer os.RemoveAll(tmp)
	sceneDir := filepath.Join(tmp, "scene")
	if err := examples.WriteBuiltin(sceneDir); err != nil {
		return DemoResult{}, err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	swarm, err := startSwarm(ctx, tmp, cfg, nil)
	defer swarm.stop()
	if err != nil {
		return DemoResult{}, err
	}
	pub := swarm.nodes[0].pub
	id, err := pub.Publish(ctx, publisher.Request{
		Scene: filepath.Join(sceneDir, examples.DemoScene), Frames: cfg.Frames,
		Replicas: 2, Title: "renderswarm demo",
	})
	if err != nil {
		return DemoResult{}, fmt.Errorf("publishing the demo scene: %w", err)
	}
	if err := waitDone(ctx, pub, id, cfg.Progress); err != nil {
		return DemoResult{}, err
	}
	res := DemoResult{Job: id.String()}
	if err := writeDemoOutput(pub, id, cfg.Out, &res); err != nil {
		return res, err
	}
	swarm.waitReceipts(ctx, 10*time.Second)
	res.Nodes = swarm.report(id)
	res.Elapsed = time.Since(start)
	return res, nil
}

// waitDone polls a job until it completes, fails or ctx ends.
func waitDone(ctx context.Context, p *publisher.Publisher, id cid.Cid, progress func(gui.JobStatus)) error {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		st, err := p.Status(id)
		if err != nil {
			return err
		}
		if progress != nil {
			progress(jobStatus(st))
		}
		switch st.State {
		case scheduler.StateCompleted:
			return nil
		case scheduler.StateFailed, scheduler.StateCanceled:
			return fmt.Errorf("demo job %s: %d of %d tasks failed", st.State, st.Counts.Failed, st.Counts.Total)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func writeDemoOutput(p *publisher.Publisher, id cid.Cid, out string, res *DemoResult) error {
	frames, err := p.Fetch(id, filepath.Join(out, "frames"))
	if err != nil {
		return fmt.Errorf("writing frames: %w", err)
	}
	res.Frames = frames.Written
	var imgs []image.Image
	for _, f := range frames.Written {
		img, err := imaging.LoadPNG(f)
		if err != nil {
			return err
		}
		imgs = append(imgs, img)
	}
	res.Sheet = filepath.Join(out, "contact-sheet.png")
	if err := writePNG(res.Sheet, contactSheet(imgs, min(6, len(imgs)), 2)); err != nil {
		return fmt.Errorf("writing contact sheet: %w", err)
	}
	res.Preview = filepath.Join(out, "preview.gif")
	if err := writeGIF(res.Preview, animatedGIF(imgs, 12)); err != nil {
		return fmt.Errorf("writing preview: %w", err)
	}
	return nil
}

// swarm is the demo's nodes, each running in a goroutine.
type swarm struct {
	nodes []*node
	stops []func()
}

// startSwarm opens and runs cfg.Nodes nodes on loopback: the first
// publishes only, the others volunteer and bootstrap from it. tweak, if
// set, may change each node's configuration before it opens (tests give a
// volunteer a dishonest renderer).
func startSwarm(ctx context.Context, tmp string, cfg DemoConfig, tweak func(int, *Config)) (*swarm, error) {
	s := &swarm{}
	threads := max(1, runtime.NumCPU()/max(1, cfg.Nodes-1))
	var bootstrap []string
	for i := range cfg.Nodes {
		ncfg := Config{
			Home:        filepath.Join(tmp, fmt.Sprintf("node%d", i)),
			Listen:      []string{"/ip4/127.0.0.1/tcp/0"},
			Bootstrap:   bootstrap,
			NoMDNS:      true,
			GUI:         "127.0.0.1:0",
			NoVolunteer: i == 0,
			CPUs:        threads,
			Logger:      cfg.Logger.With("node", i),
		}
		if tweak != nil {
			tweak(i, &ncfg)
		}
		n, err := open(ctx, ncfg)
		if err != nil {
			return s, fmt.Errorf("starting node %d: %w", i, err)
		}
		nctx, stop := context.WithCancel(ctx)
		up := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer n.close()
			n.run(nctx, func(Started) { close(up) })
		}()
		s.nodes = append(s.nodes, n)
		s.stops = append(s.stops, func() { stop(); <-done })
		select {
		case <-up:
		case <-done:
			return s, fmt.Errorf("node %d stopped while starting", i)
		case <-time.After(30 * time.Second):
			return s, fmt.Errorf("node %d did not start in 30s", i)
		}
		if i == 0 {
			bootstrap = []string{n.net.Addrs()[0].String()}
		}
	}
	// Volunteers hear announcements only once the pub/sub mesh has formed.
	deadline := time.Now().Add(20 * time.Second)
	for len(s.nodes[0].net.TopicPeers(work.JobsTopic)) < cfg.Nodes-1 {
		if time.Now().After(deadline) {
			return s, errors.New("volunteers did not join the jobs topic in 20s")
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return s, nil
}

// stop stops the nodes, volunteers first.
func (s *swarm) stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
}

// report summarises each node's part in the job.
func (s *swarm) report(id cid.Cid) []DemoNode {
	accepted, _ := s.nodes[0].pub.Contributions(id)
	var out []DemoNode
	for i, n := range s.nodes {
		d := DemoNode{PeerID: n.net.ID().String(), Role: "volunteer", Accepted: accepted[n.net.ID()]}
		if i == 0 {
			d.Role = "publisher"
		}
		if b, err := n.ledger.Balance(); err == nil {
			d.Balance, d.Earned, d.Spent = b.Balance, b.Earned, b.Spent
		}
		out = append(out, d)
	}
	return out
}

// waitReceipts waits (bounded) until every receipt the publisher issued has
// reached its volunteer, so the report shows earnings on both sides.
func (s *swarm) waitReceipts(ctx context.Context, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		pub, _ := s.nodes[0].ledger.Balance()
		var earned int64
		for _, n := range s.nodes[1:] {
			b, _ := n.ledger.Balance()
			earned += b.Earned
		}
		if pub.Spent > 0 && earned >= pub.Spent {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
