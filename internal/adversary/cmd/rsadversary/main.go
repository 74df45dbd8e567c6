// Command rsadversary runs adversary peers (package adversary) as their own
// process, for end-to-end attack tests: it starts --identities peers
// bootstrapped from --bootstrap, each working every job announced on the
// jobs topic as --behavior says, until SIGINT or SIGTERM.
//
// It prints one JSON line when the peers are up, {"peers":[ID...]}, and
// one when they stopped, {"stats":{ID: adversary.Stats}}; logs go to
// stderr. It is a test program: nothing else imports it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/internal/adversary"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "rsadversary:", err)
		os.Exit(1)
	}
}

func run() error {
	var bootstrap multi
	dir := flag.String("dir", "", "home of the peers (one subdirectory each); required")
	name := flag.String("behavior", "honest", "what the peers do: honest, copier, lazy, colluder, inflater, staller, saboteur, squatter")
	identities := flag.Int("identities", 1, "how many identities to run (colluders share one ring)")
	tandem := flag.Int("tandem", 0, "identities per group that asks for work back to back (0: each asks alone)")
	pace := flag.Duration("pace", 0, "how long each task takes at least, as on a slow machine")
	debug := flag.Bool("debug", false, "log at debug level")
	flag.Var(&bootstrap, "bootstrap", "multiaddr of a peer to bootstrap from, with /p2p/ (repeatable)")
	flag.Parse()
	if *dir == "" || *identities < 1 {
		flag.Usage()
		os.Exit(2)
	}
	b, err := adversary.ParseBehavior(*name)
	if err != nil {
		return err
	}
	b.Pace = *pace
	if *name == "colluder" {
		b.Ring = adversary.NewRing()
	}
	var tandems []*adversary.Tandem
	if *tandem > 1 {
		for range (*identities + *tandem - 1) / *tandem {
			tandems = append(tandems, adversary.NewTandem(*tandem))
		}
	}
	var boot []peer.AddrInfo
	for _, a := range bootstrap {
		ai, err := peer.AddrInfoFromString(a)
		if err != nil {
			return fmt.Errorf("bootstrap %s: %w", a, err)
		}
		boot = append(boot, *ai)
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var peers []*adversary.Peer
	defer func() {
		for _, p := range peers {
			p.Close()
		}
	}()
	var ids []string
	for i := range *identities {
		p, err := adversary.Start(ctx, adversary.Config{
			Dir: filepath.Join(*dir, fmt.Sprintf("id%d", i)), Bootstrap: boot,
			WatchResults: b.Copy, Logger: log.With("identity", i),
		})
		if err != nil {
			return err
		}
		peers = append(peers, p)
		ids = append(ids, p.ID().String())
	}
	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(map[string]any{"peers": ids}); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for i, p := range peers {
		b := b
		if tandems != nil {
			b.Tandem = tandems[i / *tandem]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Follow(ctx, b); err != nil {
				log.Error("followFailed", "peer", p.ID(), "err", err)
			}
		}()
	}
	wg.Wait()
	stats := map[string]adversary.Stats{}
	for _, p := range peers {
		stats[p.ID().String()] = p.Stats()
	}
	return out.Encode(map[string]any{"stats": stats})
}
