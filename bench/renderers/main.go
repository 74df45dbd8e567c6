//go:build linux

// Command renderers measures what the grid costs on top of Blender and
// POV-Ray: the same frames rendered
//
//	(a) directly, with the plain renderer command and the settings the
//	    backend passes (minus the sandbox), frames one after another on all
//	    cores, as a user would;
//	(b) with `renderswarm render` (the backend, bubblewrap sandbox, no
//	    network);
//	(c) through a local grid of separate processes on 127.0.0.1: a
//	    publisher that renders nothing and two volunteers with --cpus 1
//	    each, publish --replicas 2 --wait, timed from publish to completed.
//
// Why two volunteers and replicas 2: under --replicas 1 (adaptive) a new
// volunteer's every frame is replicated and a frame never gets two replicas
// from one peer, so one volunteer alone can never finish a job (-probe shows
// it). Two volunteers of one core each use the machine's two cores, like
// (a); every frame is rendered twice. It also publishes frame 1 as one
// tile and as -tiles bands and checks the stitched image against the
// whole-frame renders pixel for pixel.
//
//	go run ./bench/renderers [-frames 6] [-runs 1] [-renderer all|blender|povray] [-tiles 4] [-single] [-probe]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/renderswarm/renderswarm/bench/internal/benchproc"
)

var numCPU = runtime.NumCPU()

func main() { os.Exit(mainErr()) }

func mainErr() int {
	frames := flag.Int("frames", 6, "frames of the animation")
	runs := flag.Int("runs", 1, "repetitions; figures are medians (1 by default: one run of both renderers takes about 4 min on 2 cores)")
	which := flag.String("renderer", "all", "all, blender or povray")
	tiles := flag.Int("tiles", 4, "bands of the tiled still")
	single := flag.Bool("single", true, "also render directly on one thread (what one volunteer core does per replica)")
	probe := flag.Bool("probe", true, "first show what --replicas 1 does with a single new volunteer")
	bin := flag.String("bin", "", "renderswarm binary (default: go build ./cmd/renderswarm)")
	keep := flag.Bool("keep", false, "keep the work directory")
	flag.Parse()
	if *frames < 1 || *runs < 1 || *tiles < 2 {
		fmt.Fprintln(os.Stderr, "renderers: -frames and -runs must be ≥ 1, -tiles ≥ 2")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()

	work, err := os.MkdirTemp("", "renderswarm-bench-renderers-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "renderers:", err)
		return 1
	}
	if *keep {
		fmt.Println("work directory:", work)
	} else {
		defer os.RemoveAll(work)
	}
	printMachine(ctx)
	cfg := config{bin: *bin, tiles: *tiles, single: *single, timeout: 10 * time.Minute}
	if cfg.bin == "" {
		cfg.bin = filepath.Join(work, "renderswarm")
		_, took, err := benchproc.Run(ctx, 10*time.Minute, "", os.Environ(), "go", "build", "-o", cfg.bin, "github.com/renderswarm/renderswarm/cmd/renderswarm")
		if err != nil {
			fmt.Fprintln(os.Stderr, "renderers: building renderswarm:", err)
			return 1
		}
		fmt.Printf("built renderswarm in %.1fs\n", took.Seconds())
	}
	fmt.Print(explain)
	fmt.Printf("runs: %d (figures are medians; -runs, default 1 to stay well under 10 minutes on 2 cores)\n", *runs)

	var scenes []*scene
	for _, r := range []string{"blender", "povray"} {
		if *which != "all" && *which != r {
			continue
		}
		prog, err := exec.LookPath(r)
		if err != nil {
			fmt.Printf("\n== %s: skipped, %s is not installed\n", r, r)
			continue
		}
		dir := filepath.Join(work, r, "scene")
		var s *scene
		if r == "blender" {
			s, err = makeBlenderScene(ctx, prog, dir, *frames)
		} else {
			s, err = makePOVScene(prog, dir, *frames)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "renderers:", err)
			return 1
		}
		scenes = append(scenes, s)
	}
	if len(scenes) == 0 {
		fmt.Println("no renderer to measure")
		return 0
	}
	if *probe {
		probeReport(ctx, cfg, scenes[0], filepath.Join(work, "probe"))
	}
	code := 0
	for _, s := range scenes {
		if err := bench(ctx, cfg, s, *runs, filepath.Join(work, s.renderer)); err != nil {
			fmt.Printf("   %s: FAILED: %v\n", s.renderer, err)
			code = 1
		}
		if ctx.Err() != nil {
			break
		}
	}
	fmt.Printf("\nload average after: %s\ntotal %s\n", loadavg(), time.Since(start).Round(time.Second))
	return code
}

const explain = `
What is compared, per renderer (same scene, resolution, samples, seed 0):
  (a)  direct: the plain renderer command with the backend's settings, no
       sandbox, frames one after another, each on all cores
  (a1) direct on one thread per frame (what one replica gets on a 1-core volunteer)
  (b)  renderswarm render: the backend (scene inspection, bubblewrap sandbox), no network
  (c)  grid: publisher (--no-volunteer) + 2 volunteers with --cpus 1 as separate
       processes on 127.0.0.1, publish --replicas 2 --wait, from publish to
       completed (pack, announce, lease, fetch the scene by torrent, render,
       commit, deliver, verify, publisher's crop check); node start-up not counted.
       Both volunteers render every frame, so (c)/(a) includes replication;
       (c)/(a1) is what the grid adds beyond rendering each frame on one core.
  tiles: frame 1 alone through the grid as 1 tile and as N bands (replicas 2,
       the same 2 volunteers), against (a)'s frame 1.
  CPU s: user + system time of every process involved: the renderer runs; for (b)
       the render command and its renderers; for (c) the three nodes, their
       renderers and the publish CLI during the job. Less sensitive than wall
       time to other work running on the machine.
`

func probeReport(ctx context.Context, cfg config, s *scene, dir string) {
	fmt.Printf("\n== probe: --replicas 1 (adaptive), one new volunteer (all cores), %s, frame 1\n", s.renderer)
	st, took, err := probeAdaptive(ctx, cfg.bin, dir, s, 45*time.Second)
	if err != nil {
		fmt.Printf("   probe failed: %v\n", err)
		return
	}
	f := st.Frames
	fmt.Printf("   after %.0fs: state %s, %d/%d verified, %d rendering, %d queued, %d failed\n",
		took.Seconds(), st.State, f.Verified, f.Total, f.Rendering, f.Queued, f.Failed)
	if st.State != "completed" {
		fmt.Println("   => a new volunteer's frames are always replicated and a second replica must come")
		fmt.Println("      from another peer: one volunteer cannot complete a job; using 2 volunteers below.")
	}
}

// bench runs s runs times and prints each run and the medians.
func bench(ctx context.Context, cfg config, s *scene, runs int, dir string) error {
	fmt.Printf("\n== %s %s: %s, frames 1-%d\n", s.renderer, version(ctx, s.program), s.desc, s.frames)
	fmt.Printf("   load average before: %s\n", loadavg())
	var all []figures
	for r := range runs {
		f, err := measure(ctx, cfg, s, filepath.Join(dir, fmt.Sprintf("run%d", r+1)))
		if err != nil {
			return err
		}
		all = append(all, f)
		fmt.Printf("   run %d wall: (a) %s  (a1) %s  (b) %s  (c) %s | still: direct %s, 1 tile %s, %d tiles %s  [load %s]\n",
			r+1, sec(f.direct.wall), sec(f.direct1.wall), sec(f.render.wall), sec(f.grid.wall),
			sec(f.stillDirect.wall), sec(f.still1.wall), cfg.tiles, sec(f.stillTile.wall), loadavg())
	}
	m := func(get func(figures) cost) cost {
		var w, c []time.Duration
		for _, f := range all {
			w, c = append(w, get(f).wall), append(c, get(f).cpu)
		}
		slices.Sort(w)
		slices.Sort(c)
		return cost{w[len(w)/2], c[len(c)/2]}
	}
	a := m(func(f figures) cost { return f.direct })
	n := float64(s.frames)
	fmt.Printf("   median of %d run(s), %d frames:      wall   s/frame  /(a)    CPU s  /(a)\n", runs, s.frames)
	row := func(label string, c cost, extra string) {
		fmt.Printf("   %-34s %7.2f %7.2f %5.2f %8.2f %5.2f%s\n", label, c.wall.Seconds(), c.wall.Seconds()/n,
			ratio(c.wall, a.wall), c.cpu.Seconds(), ratio(c.cpu, a.cpu), extra)
	}
	row(fmt.Sprintf("(a)  direct, all %d cores", numCPU), a, "")
	a1 := m(func(f figures) cost { return f.direct1 })
	if cfg.single {
		row("(a1) direct, 1 thread", a1, "")
	}
	row("(b)  renderswarm render", m(func(f figures) cost { return f.render }), "")
	c := m(func(f figures) cost { return f.grid })
	extra := ""
	if cfg.single {
		extra = fmt.Sprintf("   (c)/(a1) wall %.2f", ratio(c.wall, a1.wall))
	}
	row("(c)  grid, 2 vol. x 1 core, rep. 2", c, extra)
	last := all[len(all)-1]
	fmt.Printf("   pixels (last run): (b) vs (a): %s\n                      (c) vs (a): %s\n", last.renderPix, last.gridPix)
	sd := m(func(f figures) cost { return f.stillDirect })
	s1 := m(func(f figures) cost { return f.still1 })
	st := m(func(f figures) cost { return f.stillTile })
	fmt.Printf("   still frame 1, wall (CPU): direct %s (%s); grid 1 tile %s (%s) = %.2fx direct; grid %d tiles %s (%s) = %.2fx direct, %.2fx 1 tile\n",
		sec(sd.wall), sec(sd.cpu), sec(s1.wall), sec(s1.cpu), ratio(s1.wall, sd.wall),
		cfg.tiles, sec(st.wall), sec(st.cpu), ratio(st.wall, sd.wall), ratio(st.wall, s1.wall))
	fmt.Printf("   stitched %d-tile image vs the grid's 1-tile frame: %s; vs direct: %s\n", cfg.tiles, last.tilesPix, last.tilesDirectPix)
	return nil
}

func sec(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func ratio(x, y time.Duration) float64 {
	if y <= 0 {
		return 0
	}
	return x.Seconds() / y.Seconds()
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}

// version is the first line of `program --version` naming the renderer.
func version(ctx context.Context, program string) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, program, "--version").CombinedOutput() // POV-Ray prints to stderr
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Blender ") || strings.HasPrefix(l, "POV-Ray ") {
			return strings.TrimSpace(l)
		}
	}
	return "(version unknown)"
}

func printMachine(ctx context.Context) {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	fmt.Printf("machine: %d cores (%s), %s/%s, %s\n", numCPU, model, runtime.GOOS, runtime.GOARCH, time.Now().UTC().Format(time.RFC3339))
	for _, p := range []string{"blender", "povray", "bwrap"} {
		if _, err := exec.LookPath(p); err != nil {
			fmt.Printf("  %s: not installed\n", p)
			continue
		}
		v := version(ctx, p)
		if p == "bwrap" {
			out, _, _ := benchproc.Run(ctx, 10*time.Second, "", os.Environ(), p, "--version")
			v = strings.TrimSpace(out)
		}
		fmt.Printf("  %s: %s\n", p, v)
	}
	fmt.Printf("load average before: %s\n", loadavg())
}
