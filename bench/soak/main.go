//go:build linux

// Command soak runs many renderswarm nodes on one machine: a publisher and
// N−1 volunteers, each a `renderswarm node` process with its own home on
// 127.0.0.1 (DHT, pub/sub, torrents, the work protocol), one job across
// them, and a share of the volunteers killed with SIGKILL while it runs
// and started again on their homes. It reports the nodes' total memory
// (resident, sampled), the job's time, and whether every fetched frame
// equals `renderswarm render` of the same frame, pixel for pixel.
//
//	go run ./bench/soak [-n 100] [-kill 0.2] [-frames 60] [-resolution 160x90] [-samples 16] [-timeout 30m]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/renderswarm/renderswarm/bench/internal/benchproc"
	"github.com/renderswarm/renderswarm/gui"
)

func main() {
	n := flag.Int("n", 100, "nodes, the publisher included")
	killShare := flag.Float64("kill", 0.2, "share of the volunteers killed (SIGKILL) and restarted during the job")
	frames := flag.Int("frames", 60, "frames of the job")
	res := flag.String("resolution", "160x90", "frame size")
	samples := flag.Int("samples", 16, "samples per pixel")
	keep := flag.Bool("keep", false, "keep the homes and logs")
	timeout := flag.Duration("timeout", 0, "how long the job may take (default: 5 s a frame plus 5 minutes)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := soak(ctx, *n, *killShare, *frames, *res, *samples, *keep, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func soak(ctx context.Context, n int, killShare float64, frames int, res string, samples int, keep bool, jobTimeout time.Duration) error {
	if n < 3 {
		return fmt.Errorf("-n %d: want a publisher and at least two volunteers", n)
	}
	dir, err := os.MkdirTemp("", "rs-soak-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("homes and logs in", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin := filepath.Join(dir, "renderswarm")
	if _, _, err := benchproc.Run(ctx, 10*time.Minute, "", os.Environ(), "go", "build", "-o", bin, "github.com/renderswarm/renderswarm/cmd/renderswarm"); err != nil {
		return err
	}
	scene, err := filepath.Abs("examples/builtin/demo.scene")
	if err != nil {
		return err
	}
	if _, err := os.Stat(scene); err != nil {
		return fmt.Errorf("run from the repository's root: %w", err)
	}

	// Each node measures its speed as it starts: with a hundred of them on
	// a few cores that takes a while.
	benchproc.StartTimeout = time.Minute + time.Duration(n)*3*time.Second
	start := time.Now()
	pub, err := benchproc.StartNode(ctx, bin, dir, "publisher", nil, "--no-volunteer")
	if err != nil {
		return err
	}
	defer pub.Stop()
	boot, err := pub.TCPAddr()
	if err != nil {
		return err
	}
	vols := make([]*benchproc.Node, n-1)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	sem := make(chan struct{}, 4) // nodes starting at once
	for i := range vols {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			v, err := benchproc.StartNode(ctx, bin, dir, fmt.Sprintf("volunteer%03d", i+1), nil, "--bootstrap", boot, "--cpus", "1")
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			vols[i] = v
		})
	}
	wg.Wait()
	defer func() {
		for _, v := range vols {
			if v != nil {
				v.Stop()
			}
		}
	}()
	if firstErr != nil {
		return firstErr
	}
	fmt.Printf("%d nodes started in %.1fs\n", n, time.Since(start).Seconds())
	if err := pub.WaitPeers(ctx, "builtin", (n-1)*9/10); err != nil {
		return err
	}
	fmt.Printf("the publisher sees 90%% of the volunteers after %.1fs\n", time.Since(start).Seconds())

	var peak int64
	sample := func() {
		total := rss(pub.Pid())
		mu.Lock()
		for _, v := range vols {
			total += rss(v.Pid())
		}
		mu.Unlock()
		peak = max(peak, total)
	}
	sample()
	fmt.Printf("resident memory of all nodes, idle: %d MiB (%d MiB a node)\n", peak>>20, peak>>20/int64(n))

	out, _, err := pub.CLI(ctx, 2*time.Minute, "publish", scene, "--frames", fmt.Sprintf("1-%d", frames),
		"--resolution", res, "--samples", strconv.Itoa(samples), "--replicas", "2", "--json")
	if err != nil {
		return err
	}
	var st gui.JobStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return fmt.Errorf("publish --json printed %q: %v", out, err)
	}
	id, published := st.ID, time.Now()
	kills := int(killShare * float64(n-1))
	killed := false
	limit := time.Duration(frames)*5*time.Second + 5*time.Minute
	if jobTimeout > 0 {
		limit = jobTimeout
	}
	deadline := published.Add(limit)
	for st.State != "completed" {
		if st.State == "failed" || st.State == "canceled" {
			return fmt.Errorf("job %s %s", id, st.State)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("job not completed after %v: %+v", time.Since(published).Round(time.Second), st.Frames)
		}
		time.Sleep(500 * time.Millisecond)
		sample()
		if o, _, err := pub.CLI(ctx, 30*time.Second, "status", id, "--json"); err == nil {
			json.Unmarshal([]byte(o), &st)
		}
		if !killed && st.Frames.Verified >= max(1, frames/10) {
			killed = true
			if err := killAndRestart(ctx, bin, dir, boot, vols, kills, &mu); err != nil {
				return err
			}
			fmt.Printf("killed %d volunteers with SIGKILL at %d/%d frames verified and started them again\n", kills, st.Frames.Verified, frames)
		}
	}
	took := time.Since(published)
	fmt.Printf("job of %d frames (replicas 2) completed in %.1fs; peak resident memory of all nodes %d MiB (%d MiB a node)\n",
		frames, took.Seconds(), peak>>20, peak>>20/int64(n))

	grid, local := filepath.Join(dir, "grid"), filepath.Join(dir, "local")
	if _, _, err := pub.CLI(ctx, 5*time.Minute, "fetch", id, "-o", grid); err != nil {
		return err
	}
	w, h, _ := strings.Cut(res, "x")
	if _, _, err := benchproc.Run(ctx, 10*time.Minute, "", os.Environ(), bin, "render", scene, "--output", local,
		"--frames", fmt.Sprintf("1-%d", frames), "--resolution", w+"x"+h, "--samples", strconv.Itoa(samples)); err != nil {
		return err
	}
	exact := 0
	for f := 1; f <= frames; f++ {
		name := fmt.Sprintf("frame_%04d.png", f)
		if same, err := samePixels(filepath.Join(grid, name), filepath.Join(local, name)); err != nil {
			fmt.Printf("frame %d: %v\n", f, err)
		} else if same {
			exact++
		} else {
			fmt.Printf("frame %d differs from renderswarm render\n", f)
		}
	}
	fmt.Printf("%d of %d frames equal renderswarm render pixel for pixel\n", exact, frames)
	if exact != frames {
		return fmt.Errorf("%d frames not exact", frames-exact)
	}
	return nil
}

// killAndRestart kills k random volunteers with SIGKILL (their whole
// process group) and starts each again on its home.
func killAndRestart(ctx context.Context, bin, dir, boot string, vols []*benchproc.Node, k int, mu *sync.Mutex) error {
	for _, i := range rand.Perm(len(vols))[:k] {
		v := vols[i]
		syscall.Kill(-v.Pid(), syscall.SIGKILL)
		v.Stop() // reaps it
		nv, err := benchproc.StartNode(ctx, bin, dir, filepath.Base(v.Home), nil, "--bootstrap", boot, "--cpus", "1")
		if err != nil {
			return fmt.Errorf("restarting %s: %w", filepath.Base(v.Home), err)
		}
		mu.Lock()
		vols[i] = nv
		mu.Unlock()
	}
	return nil
}

// rss is a process's resident memory in bytes, from /proc.
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// samePixels reports whether two PNGs hold the same pixels.
func samePixels(a, b string) (bool, error) {
	ia, err := decode(a)
	if err != nil {
		return false, err
	}
	ib, err := decode(b)
	if err != nil {
		return false, err
	}
	if ia.Bounds() != ib.Bounds() {
		return false, nil
	}
	for y := ia.Bounds().Min.Y; y < ia.Bounds().Max.Y; y++ {
		for x := ia.Bounds().Min.X; x < ia.Bounds().Max.X; x++ {
			r1, g1, b1, a1 := ia.At(x, y).RGBA()
			r2, g2, b2, a2 := ib.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				return false, nil
			}
		}
	}
	return true, nil
}

func decode(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return png.Decode(f)
}
