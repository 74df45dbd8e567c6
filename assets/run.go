package assets

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/p2p/net/gostream"

	"github.com/renderswarm/renderswarm/job"
)

const (
	// reprovideInterval re-announces every stored asset; kad-dht provider
	// records live 48 h.
	reprovideInterval = 12 * time.Hour
	gcInterval        = 10 * time.Minute
	provideTimeout    = 2 * time.Minute
	// AddLater's announcements go out one every laterEvery while it adds
	// assets, laterBurst every laterEvery once it added none for
	// laterQuiet; at most maxLater wait.
	laterEvery = 200 * time.Millisecond
	laterBurst = 10
	laterQuiet = time.Second
	maxLater   = 100_000
)

// clientConfig is the torrent client configuration: BitTorrent over libp2p
// streams only, always seeding, no sockets of its own.
func (s *Store) clientConfig() *torrent.ClientConfig {
	cfg := torrent.NewDefaultClientConfig()
	cfg.NoDHT = true
	cfg.DisableTrackers = true
	cfg.DisablePEX = true
	cfg.DisableUTP = true
	cfg.DisableTCP = true
	cfg.DisableWebtorrent = true
	cfg.DisableWebseeds = true
	cfg.NoDefaultPortForwarding = true
	cfg.ListenPort = 0
	cfg.ListenHost = func(string) string { return "127.0.0.1" } // unused: no builtin listeners
	cfg.PeriodicallyAnnounceTorrentsToDht = false
	cfg.DhtStartingNodes = nil
	cfg.Seed = true
	cfg.DataDir = filepath.Join(s.cfg.Dir, "staging")
	cfg.DefaultStorage = noDefaultStorage{}
	cfg.UploadRateLimiter = s.limiter
	// libp2p streams are already authenticated and encrypted.
	cfg.HeaderObfuscationPolicy = torrent.HeaderObfuscationPolicy{}
	cfg.Slogger = slog.New(minLevel{s.log.Handler(), slog.LevelError}).With("component", "torrent")
	return cfg
}

// Run starts the torrent client on the libp2p host, seeds every stored asset,
// announces them periodically and collects the cache. When ctx is done it
// closes the torrent client (before the node closes libp2p) and returns.
func (s *Store) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.closed || s.client != nil {
		s.mu.Unlock()
		return fmt.Errorf("assets: Run called twice")
	}
	s.mu.Unlock()
	staging := filepath.Join(s.cfg.Dir, "staging")
	if err := removeTree(staging); err != nil {
		return fmt.Errorf("assets: clearing %s: %w", staging, err)
	}
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return fmt.Errorf("assets: creating %s: %w", staging, err)
	}
	cl, err := torrent.NewClient(s.clientConfig())
	if err != nil {
		return fmt.Errorf("assets: starting torrent client: %w", err)
	}
	ln, err := gostream.Listen(s.cfg.Host, ProtocolID)
	if err != nil {
		cl.Close()
		return fmt.Errorf("assets: listening on %s: %w", ProtocolID, err)
	}
	cl.AddListener(streamListener{ln, s.book, s.cfg.PeerRequests, s.warm})
	cl.AddDialer(streamDialer{s.cfg.Host, s.book, s.cfg.PeerRequests})
	var bt *btListener
	if s.cfg.BTListen != "" {
		if bt, err = listenBT(s.cfg.BTListen, s); err != nil {
			cl.Close()
			ln.Close()
			return fmt.Errorf("assets: %w", err)
		}
		cl.AddListener(bt)
		s.log.Info("bitTorrentListening", "addr", bt.Addr().String())
	}
	s.mu.Lock()
	s.client, s.bt = cl, bt
	s.mu.Unlock()

	n := s.reseed(cl)
	s.log.Info("assetStoreStarted", "assets", n, "dir", s.cfg.Dir)
	close(s.ready)

	defer func() {
		s.mu.Lock()
		s.client, s.bt, s.closed = nil, nil, true
		s.mu.Unlock()
		cl.Close() // drops every torrent first; then our listeners
		ln.Close()
		if bt != nil {
			bt.Close()
		}
		s.log.Info("assetStoreStopped")
	}()
	provided := make(chan struct{})
	go func() {
		defer close(provided)
		s.provideLoop(ctx)
	}()
	defer func() { <-provided }()
	s.requestGC()
	gc := time.NewTicker(gcInterval)
	defer gc.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-gc.C:
			s.collect(metainfo.Hash{})
		case <-s.gcCh:
			s.collect(metainfo.Hash{})
		}
	}
}

// reseed opens the most recently used complete assets of the index in the
// client (the others open when a peer asks: open.go); entries whose data
// vanished are dropped from the index. Leftover data directories that the
// index does not know are removed. It returns how many assets are stored.
func (s *Store) reseed(cl *torrent.Client) int {
	rows, err := s.allRows()
	if err != nil {
		s.log.Error("assetIndexUnreadable", "err", err)
		return 0
	}
	known := make(map[string]bool, len(rows))
	n := 0
	for i, r := range rows { // least recently used first
		known[r.ih.HexString()] = true
		if _, err := os.Stat(s.dataDir(r.ih)); err != nil {
			s.log.Warn("assetDataMissing", "cid", r.CID, "err", err)
			if err := s.deleteRow(r.ih); err != nil {
				s.log.Warn("assetNotForgotten", "cid", r.CID, "err", err)
			}
			continue
		}
		n++
		if len(rows)-i > s.maxOpen {
			continue
		}
		if err := s.seed(cl, r.ih, r.infoBytes); err != nil {
			s.log.Warn("assetNotSeeded", "cid", r.CID, "err", err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(s.cfg.Dir, "data"))
	if err != nil {
		s.log.Warn("assetsNotListed", "err", err)
		return n
	}
	for _, e := range entries {
		if !known[e.Name()] {
			p := filepath.Join(s.cfg.Dir, "data", e.Name())
			s.log.Warn("unindexedDataRemoved", "path", p)
			if err := removeTree(p); err != nil {
				s.log.Warn("unindexedDataNotRemoved", "path", p, "err", err)
			}
		}
	}
	return n
}

// seed adds a complete, verified asset to the client for seeding only.
func (s *Store) seed(cl *torrent.Client, ih metainfo.Hash, infoBytes []byte) error {
	opts := torrent.AddTorrentOpts{
		InfoHash:             ih,
		InfoBytes:            infoBytes,
		Storage:              completeStorage(s.dataDir(ih), s.log),
		DisallowDataDownload: true,
	}
	t, isNew := cl.AddTorrentOpt(opts)
	if !isNew && s.seeding(ih) != t {
		// A download of the same content (Add raced a Get): stop it, its
		// Get finds the asset complete; seed from the store.
		t.Drop()
		t, _ = cl.AddTorrentOpt(opts)
	}
	if t.Info() == nil {
		t.Drop()
		return fmt.Errorf("seeding %s: info not accepted", job.AssetCID(ih))
	}
	s.mu.Lock()
	s.torrents[ih] = t
	s.useSeq++
	s.used[ih] = s.useSeq
	s.mu.Unlock()
	s.closeIdle()
	return nil
}

// provideLoop announces new assets as they come and every stored asset
// periodically.
func (s *Store) provideLoop(ctx context.Context) {
	s.reprovideAll(ctx)
	t := time.NewTicker(reprovideInterval)
	defer t.Stop()
	later := time.NewTicker(laterEvery)
	defer later.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-s.provideCh:
			s.provide(ctx, c)
		case <-t.C:
			s.reprovideAll(ctx)
		case <-later.C:
			if len(s.provideCh) > 0 {
				continue // Add's and Get's announcements first
			}
			for _, c := range s.nextLater(laterBurst) {
				s.provide(ctx, c)
			}
		}
	}
}

func (s *Store) reprovideAll(ctx context.Context) {
	rows, err := s.allRows()
	if err != nil {
		s.log.Warn("assetIndexUnreadable", "err", err)
		return
	}
	for _, r := range rows {
		if ctx.Err() != nil {
			return
		}
		s.provide(ctx, r.CID)
	}
}

func (s *Store) provide(ctx context.Context, c cid.Cid) {
	ctx, cancel := context.WithTimeout(ctx, provideTimeout)
	defer cancel()
	if err := s.cfg.Providers.Provide(ctx, c); err != nil && ctx.Err() == nil {
		s.log.Warn("assetNotProvided", "cid", c, "err", err)
	}
}

// minLevel drops records below a level (anacrolix is chatty up to Warn).
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(n string) slog.Handler {
	return minLevel{h.Handler.WithGroup(n), h.min}
}
