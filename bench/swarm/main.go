// Command swarm measures how fast one seeder and N downloaders, all
// in-process on loopback with real libp2p hosts and asset stores, spread an
// asset when every node's upload is capped at U: T is the time until all N
// hold complete verified copies, compared with the ideal
// T* = max(S/U, N*S/(U+N*U)).
//
//	go run ./bench/swarm [-size 64MiB] [-rate 8MiB] [-n 6] [-runs 1] [-reqq 64] [-piece 0] [-trace]
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/renderswarm/renderswarm/assets"
	"github.com/renderswarm/renderswarm/assets/assetstest"
	"github.com/renderswarm/renderswarm/internal/db"
)

func main() {
	size := flag.String("size", "64MiB", "asset size S")
	rate := flag.String("rate", "8MiB", "upload cap U per node, bytes/s")
	n := flag.Int("n", 6, "downloaders N")
	runs := flag.Int("runs", 1, "repetitions")
	piece := flag.String("piece", "0", "piece length (0: the store's choice)")
	verbose := flag.Bool("v", false, "log the stores")
	traceF := flag.Bool("trace", false, "print every downloader's progress each second")
	reqq := flag.Int("reqq", 0, "requests queued per peer (0: assets.DefaultPeerRequests)")
	flag.Parse()
	S, err1 := parseBytes(*size)
	U, err2 := parseBytes(*rate)
	P, err3 := parseBytes(*piece)
	if err := firstErr(err1, err2, err3); err != nil || *n < 1 {
		fmt.Fprintln(os.Stderr, "swarm: bad flags:", err)
		os.Exit(2)
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	N := float64(*n)
	tStar := max(float64(S)/float64(U), N*float64(S)/(float64(U)+N*float64(U)))
	fmt.Printf("S=%d U=%d/s N=%d  T*=%.2fs\n", S, U, *n, tStar)
	var ratios []float64
	for r := 0; r < *runs; r++ {
		T, per, err := run(S, U, P, *reqq, *n, log, *traceF)
		if err != nil {
			fmt.Fprintln(os.Stderr, "swarm:", err)
			os.Exit(1)
		}
		ratios = append(ratios, T.Seconds()/tStar)
		fmt.Printf("run %d: T=%.2fs T*=%.2fs T/T*=%.3f  per node: %s\n", r+1, T.Seconds(), tStar, T.Seconds()/tStar, per)
	}
	sort.Float64s(ratios)
	fmt.Printf("T/T* over %d runs: min %.3f median %.3f max %.3f\n", len(ratios), ratios[0], ratios[len(ratios)/2], ratios[len(ratios)-1])
}

type node struct {
	s      *assets.Store
	cancel context.CancelFunc
	done   chan error
}

func run(S, U, P int64, reqq, n int, log *slog.Logger, trace bool) (time.Duration, string, error) {
	tmp, err := os.MkdirTemp("", "swarm-bench-")
	if err != nil {
		return 0, "", err
	}
	defer os.RemoveAll(tmp)
	mem := assetstest.NewMem()
	var nodes []*node
	var closers []io.Closer
	defer func() {
		for _, nd := range nodes {
			nd.cancel()
			<-nd.done
		}
		for _, c := range closers {
			c.Close()
		}
	}()
	for i := 0; i <= n; i++ {
		h, err := assetstest.NewHost()
		if err != nil {
			return 0, "", err
		}
		closers = append(closers, h)
		dir := filepath.Join(tmp, strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return 0, "", err
		}
		d, err := db.Open(filepath.Join(dir, "node.db"))
		if err != nil {
			return 0, "", err
		}
		closers = append(closers, d)
		s, err := assets.New(assets.Config{
			Dir: filepath.Join(dir, "assets"), DB: d, Host: h, Providers: mem.For(h),
			MaxUploadRate: U, PieceLength: P, PeerRequests: reqq, Logger: log.With("node", i),
		})
		if err != nil {
			return 0, "", err
		}
		ctx, cancel := context.WithCancel(context.Background())
		nd := &node{s: s, cancel: cancel, done: make(chan error, 1)}
		go func() { nd.done <- s.Run(ctx) }()
		nodes = append(nodes, nd)
	}
	src := filepath.Join(tmp, "asset.bin")
	if err := randomFile(src, S); err != nil {
		return 0, "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	in, err := nodes[0].s.Add(ctx, []string{src})
	if err != nil {
		return 0, "", err
	}
	start := time.Now()
	took := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	prog := make([]assets.Progress, n)
	for i := 1; i <= n; i++ {
		wg.Go(func() {
			_, errs[i-1] = nodes[i].s.Get(ctx, in.CID, func(p assets.Progress) {
				mu.Lock()
				prog[i-1] = p
				mu.Unlock()
			})
			took[i-1] = time.Since(start)
		})
	}
	stop := make(chan struct{})
	if trace {
		go func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				mu.Lock()
				line := fmt.Sprintf("%5.1fs seeder up %5.1f MiB |", time.Since(start).Seconds(), float64(nodes[0].s.Stats().Uploaded)/(1<<20))
				for _, p := range prog {
					line += fmt.Sprintf(" %5.1f(%d)", float64(p.Done)/(1<<20), p.Peers)
				}
				mu.Unlock()
				fmt.Println(line)
			}
		}()
	}
	wg.Wait()
	close(stop)
	T := time.Since(start)
	if err := firstErr(errs...); err != nil {
		return 0, "", err
	}
	var per []string
	for _, d := range took {
		per = append(per, fmt.Sprintf("%.2f", d.Seconds()))
	}
	var up []string
	for _, nd := range nodes {
		st := nd.s.Stats()
		up = append(up, fmt.Sprintf("%.1f/%.1f", float64(st.Uploaded)/(1<<20), float64(st.Wasted)/(1<<20)))
	}
	per = append(per, "; MiB up/wasted (seeder first): "+strings.Join(up, " "))
	return T, strings.Join(per, " "), nil
}

func randomFile(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// parseBytes reads 8MiB, 64MiB, 1.5MB, 800KiB or a plain number.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(v * mult), nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
