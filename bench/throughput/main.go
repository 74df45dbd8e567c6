//go:build linux

// Command throughput measures how many results one publisher takes in,
// verifies and credits per second: a publisher and N volunteers, each a
// `renderswarm node` process with its own home on 127.0.0.1, render jobs
// of tiny built-in frames (32×18, 1 sample, replicas 2) so that rendering
// is negligible and the publisher's path is what is measured.
//
// For each N it runs jobs one after another: the first while every
// volunteer is new (each of their results is crop-checked), then more
// until they are established (NewVolunteerVerified results over
// NewVolunteerJobs jobs), then the measured steady job. For each job it
// prints verified frames/s, delivered results/s, the publisher's CPU per
// result, and then the p50/p99 of every phase of the work protocol, read
// from the nodes' /debug/phases (debugEnv).
//
//	go run ./bench/throughput [-n 3,15] [-frames 0] [-steady 0] [-cpus 1] [-cpuprofile DIR [-profile-after D]] [-bin FILE]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/renderswarm/renderswarm/bench/internal/benchproc"
	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/internal/phase"
	"github.com/renderswarm/renderswarm/scheduler"
)

func main() {
	ns := flag.String("n", "3,15", "volunteer counts to measure, comma-separated")
	frames := flag.Int("frames", 0, "frames per warm-up job (0: 20 per volunteer, at least 100)")
	steadyFrames := flag.Int("steady", 0, "frames of the steady job (0: four times -frames)")
	cpus := flag.Int("cpus", 1, "cores each volunteer renders with")
	res := flag.String("resolution", "32x18", "frame size")
	profile := flag.String("cpuprofile", "", "write 20 s CPU and allocation profiles and a block profile of the publisher during the steady job into DIR")
	flag.DurationVar(&profileAfter, "profile-after", 0, "start the profiles this long into the steady job (a long job's end)")
	keep := flag.Bool("keep", false, "keep the nodes' homes and logs")
	binFlag := flag.String("bin", "", "the renderswarm binary to measure (default: built from this tree)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	dir, err := os.MkdirTemp("", "rs-throughput-")
	if err != nil {
		fail(err)
	}
	if !*keep {
		defer os.RemoveAll(dir)
	} else {
		fmt.Println("homes and logs in", dir)
	}
	bin := *binFlag
	if bin == "" {
		bin = filepath.Join(dir, "renderswarm")
	} else if _, err := os.Stat(bin); err != nil {
		fail(err)
	}
	if *binFlag == "" {
		if _, _, err := benchproc.Run(ctx, 10*time.Minute, "", os.Environ(), "go", "build", "-o", bin, "github.com/renderswarm/renderswarm/cmd/renderswarm"); err != nil {
			fail(err)
		}
	}
	scene, err := filepath.Abs("examples/builtin/demo.scene")
	if err != nil {
		fail(err)
	}
	if _, err := os.Stat(scene); err != nil {
		fail(fmt.Errorf("run from the repository's root: %w", err))
	}
	for _, f := range strings.Split(*ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 {
			fail(fmt.Errorf("-n: %q is not a volunteer count of at least 2", f))
		}
		fr := *frames
		if fr == 0 {
			fr = max(100, 20*n)
		}
		sf := *steadyFrames
		if sf == 0 {
			sf = 4 * fr
		}
		if err := measure(ctx, bin, filepath.Join(dir, fmt.Sprint(n)), scene, n, *cpus, fr, sf, *res, *profile); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "throughput:", err)
	os.Exit(1)
}

// debugEnv names the address a node serves /debug/ on (node.DebugEnv).
const debugEnv = "RENDERSWARM_DEBUG_ADDR"

// profileAfter delays the steady job's profiles (-profile-after).
var profileAfter time.Duration

// debugAddrs gives every node a free loopback port for its debug server.
type debugAddrs map[string]string

func (d debugAddrs) env(name string) []string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil
	}
	d[name] = ln.Addr().String()
	ln.Close()
	return []string{debugEnv + "=" + d[name]}
}

// measure runs the jobs on a grid of n volunteers and prints their figures.
func measure(ctx context.Context, bin, dir, scene string, n, cpus, warmFrames, steadyFrames int, res, profile string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	debug := debugAddrs{}
	g, err := benchproc.StartGrid(ctx, bin, dir, "builtin", n, cpus, debug.env)
	if err != nil {
		return err
	}
	defer g.Stop()
	fmt.Printf("\n%d volunteers (%d core each), frames of %s, replicas 2: %d per warm-up job, %d in the steady one\n",
		n, cpus, res, warmFrames, steadyFrames)
	// Enough jobs for every volunteer to be established before the last.
	jobs := scheduler.NewVolunteerJobs + 1
	for i := range jobs {
		steady := i == jobs-1
		frames := warmFrames
		if steady {
			frames = steadyFrames
		}
		label := map[bool]string{true: "steady", false: fmt.Sprintf("warm-up %d", i+1)}[steady]
		if i == 0 {
			label = "new swarm"
		}
		for name := range debug {
			reset(debug[name])
		}
		cpu0 := cpuTime(g.Pub.Pid())
		var prof chan error
		if steady && profile != "" {
			prof = make(chan error, 1)
			go func() { prof <- profiles(ctx, debug, filepath.Join(profile, fmt.Sprintf("n%d", n))) }()
		}
		took, mid, tl, err := runJob(ctx, g, debug["publisher"], scene, i*warmFrames+1, frames, res)
		if err != nil {
			return fmt.Errorf("%s job: %w", label, err)
		}
		// The publisher's work for the job ends after its last frame is
		// verified: receipts, and the sharing of the last results.
		cpu := settledCPU(ctx, g.Pub.Pid()) - cpu0
		pub := phases(debug["publisher"])
		results := pub["publisher.deliver.record"].Count
		perFrame := float64(results) / float64(frames)
		fmt.Printf("  %-10s %6.1f frames/s  %6.1f results/s (%.1f/s from 10 %% to 90 %% of frames verified)  publisher CPU %5.2f ms/result (%.0f%% of a core)  %d results in %.1fs\n",
			label, float64(frames)/took.Seconds(), float64(results)/took.Seconds(), perFrame*mid,
			cpu.Seconds()*1000/float64(max(results, 1)), 100*cpu.Seconds()/took.Seconds(), results, took.Seconds())
		fmt.Printf("  timeline   published in %.1fs, first frame verified at %.1fs, 10 %% at %.1fs, 90 %% at %.1fs, all at %.1fs\n",
			tl.published.Seconds(), tl.first.Seconds(), tl.p10.Seconds(), tl.p90.Seconds(), took.Seconds())
		fmt.Printf("  per second %v frames verified\n", tl.perSecond)
		fmt.Printf("  per second %v leases\n", tl.leased)
		fmt.Printf("  per second %v results delivered\n", tl.delivered)
		if steady || i == 0 {
			var vols []map[string]phase.Summary
			for name, addr := range debug {
				if name != "publisher" {
					vols = append(vols, phases(addr))
				}
			}
			printPhases(pub, vols)
		}
		if prof != nil {
			if err := <-prof; err != nil {
				fmt.Println("  profiles:", err)
			}
		}
	}
	return nil
}

// timeline is when a job reached its milestones, from the start of its
// publication.
type timeline struct {
	published, first, p10, p90 time.Duration
	perSecond                  []int // frames verified in each second of the job
	leased, delivered          []int // leases granted and results delivered in each second
}

// runJob publishes a job of frames from first on (every job's frames
// differ, so that every job is new) and waits until every frame is
// verified. It returns the time that took, the rate of verified frames
// in mid-job (between 10 % and 90 % of them verified) and its timeline.
func runJob(ctx context.Context, g *benchproc.Grid, debugAddr, scene string, first, frames int, res string) (time.Duration, float64, timeline, error) {
	var tl timeline
	spec := fmt.Sprintf("%d-%d", first, first+frames-1)
	start := time.Now()
	out, _, err := g.Pub.CLI(ctx, 2*time.Minute, "publish", scene, "--frames", spec, "--resolution", res,
		"--samples", "1", "--replicas", "2", "--json")
	if err != nil {
		return 0, 0, tl, err
	}
	var st gui.JobStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return 0, 0, tl, fmt.Errorf("publish --json printed %q: %v", out, err)
	}
	tl.published = time.Since(start)
	var t10, t90 time.Time
	seen, leased, delivered := 0, 0, 0
	var n10, n90 int
	id := st.ID
	deadline := start.Add(time.Duration(frames)*time.Second + 2*time.Minute)
	// Polled over the node's API rather than with `renderswarm status`:
	// starting a process four times a second would take CPU from the
	// nodes measured.
	api, err := gui.Dial(ctx, g.Pub.Home)
	if err != nil {
		return 0, 0, tl, err
	}
	for {
		if s, err := api.Status(ctx, id); err == nil {
			st = s
		}
		v := st.Frames.Verified
		sec := int(time.Since(start) / time.Second)
		for len(tl.perSecond) <= sec {
			tl.perSecond = append(tl.perSecond, 0)
		}
		tl.perSecond[sec] += v - seen
		seen = v
		ph := phases(debugAddr)
		for len(tl.leased) <= sec {
			tl.leased, tl.delivered = append(tl.leased, 0), append(tl.delivered, 0)
		}
		l, d := int(ph["publisher.lease"].Count), int(ph["publisher.deliver.record"].Count)
		tl.leased[sec] += l - leased
		tl.delivered[sec] += d - delivered
		leased, delivered = l, d
		if tl.first == 0 && v > 0 {
			tl.first = time.Since(start)
		}
		if t10.IsZero() && v >= frames/10 {
			t10, n10, tl.p10 = time.Now(), v, time.Since(start)
		} else if t90.IsZero() && v >= frames*9/10 {
			t90, n90, tl.p90 = time.Now(), v, time.Since(start)
		}
		switch {
		case st.State == "completed":
			mid := 0.0
			if !t90.IsZero() && t90.After(t10) {
				mid = float64(n90-n10) / t90.Sub(t10).Seconds()
			}
			return time.Since(start), mid, tl, nil
		case st.State == "failed" || st.State == "canceled":
			return 0, 0, tl, fmt.Errorf("job %s %s", id, st.State)
		case ctx.Err() != nil:
			return 0, 0, tl, ctx.Err()
		case time.Now().After(deadline):
			return 0, 0, tl, fmt.Errorf("job %s not completed after %v: %+v", id, time.Since(start).Round(time.Second), st.Frames)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// settledCPU waits, at most 30 s, until a process is idle (under 2 % of a
// core over 500 ms) and returns the CPU it has used.
func settledCPU(ctx context.Context, pid int) time.Duration {
	last := cpuTime(pid)
	for range 60 {
		select {
		case <-ctx.Done():
			return last
		case <-time.After(500 * time.Millisecond):
		}
		now := cpuTime(pid)
		if now-last < 10*time.Millisecond {
			return now
		}
		last = now
	}
	return last
}

// cpuTime is the CPU a process has used (user and system), from /proc.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

func reset(addr string) {
	req, _ := http.NewRequest(http.MethodDelete, "http://"+addr+"/debug/phases", nil)
	if r, err := http.DefaultClient.Do(req); err == nil {
		r.Body.Close()
	}
}

func phases(addr string) map[string]phase.Summary {
	out := map[string]phase.Summary{}
	r, err := http.Get("http://" + addr + "/debug/phases")
	if err != nil {
		return out
	}
	defer r.Body.Close()
	json.NewDecoder(r.Body).Decode(&out)
	return out
}

// printPhases prints the publisher's phases, then the volunteers': the
// median of their p50s and the largest of their p99s.
func printPhases(pub map[string]phase.Summary, vols []map[string]phase.Summary) {
	fmt.Printf("    %-28s %8s %10s %10s %10s\n", "phase", "count", "p50", "p99", "total")
	for _, name := range slices.Sorted(maps.Keys(pub)) {
		s := pub[name]
		fmt.Printf("    %-28s %8d %10s %10s %10s\n", name, s.Count, ms(s.P50), ms(s.P99), s.Total.Round(time.Millisecond))
	}
	names := map[string]bool{}
	for _, v := range vols {
		for name := range v {
			names[name] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		var p50s []time.Duration
		var p99 time.Duration
		var count int64
		for _, v := range vols {
			if s, ok := v[name]; ok {
				p50s = append(p50s, s.P50)
				p99 = max(p99, s.P99)
				count += s.Count
			}
		}
		slices.Sort(p50s)
		fmt.Printf("    %-28s %8d %10s %10s %10s\n", name, count, ms(p50s[len(p50s)/2]), ms(p99), "")
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

// profiles writes 20-second CPU profiles of the publisher and of one
// volunteer (together the volunteers use more of the machine than the
// publisher does) and the publisher's allocations over the same 20 s, then
// the publisher's block and mutex profiles, into dir.
func profiles(ctx context.Context, debug debugAddrs, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	select {
	case <-time.After(profileAfter):
	case <-ctx.Done():
		return ctx.Err()
	}
	vol := ""
	for name := range debug {
		if name != "publisher" && (vol == "" || name < vol) {
			vol = name
		}
	}
	volCPU, allocs := make(chan error, 1), make(chan error, 1)
	go func() {
		volCPU <- fetchProfile(ctx, debug[vol], "/debug/pprof/profile?seconds=20", filepath.Join(dir, "volunteer-cpu.pprof"))
	}()
	go func() {
		allocs <- fetchProfile(ctx, debug["publisher"], "/debug/pprof/allocs?seconds=20", filepath.Join(dir, "allocs.pprof"))
	}()
	for _, p := range []struct{ path, file string }{
		{"/debug/pprof/profile?seconds=20", "cpu.pprof"},
		{"/debug/pprof/block", "block.pprof"},
		{"/debug/pprof/mutex", "mutex.pprof"},
	} {
		if err := fetchProfile(ctx, debug["publisher"], p.path, filepath.Join(dir, p.file)); err != nil {
			return err
		}
	}
	for _, ch := range []chan error{volCPU, allocs} {
		if err := <-ch; err != nil {
			return err
		}
	}
	fmt.Println("  profiles in", dir, "(go tool pprof -top FILE): the publisher's (allocs.pprof: what it allocated in those 20 s), and volunteer-cpu.pprof of", vol)
	return nil
}

// fetchProfile writes what addr serves at path into file.
func fetchProfile(ctx context.Context, addr, path, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer r.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
