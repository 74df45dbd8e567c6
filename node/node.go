package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	ma "github.com/multiformats/go-multiaddr"
	"golang.org/x/sync/errgroup"

	"github.com/renderswarm/renderswarm/assets"
	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/internal/db"
	"github.com/renderswarm/renderswarm/p2p"
)

// Started describes a node that is up, as `renderswarm node` prints it.
type Started struct {
	PeerID string
	Addrs  []string
	GUI    string
}

// Run starts a node on cfg.Home and runs it until ctx ends, then shuts it
// down cleanly. ready, if set, is called once everything listens and the api
// file is written.
func Run(ctx context.Context, cfg Config, ready func(Started)) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger
	lock, err := lockHome(cfg.Home)
	if err != nil {
		return err
	}
	defer lock.release()
	if err := writeDefaultConfig(cfg.Home); err != nil {
		return fmt.Errorf("writing default config: %w", err)
	}
	p2pCfg, err := p2pConfig(cfg)
	if err != nil {
		return err
	}
	uploadRate, err := ParseSize(cfg.MaxUploadRate)
	if err != nil {
		return fmt.Errorf("max upload rate: %w", err)
	}
	quota, err := ParseSize(cfg.CacheQuota)
	if err != nil {
		return fmt.Errorf("cache quota: %w", err)
	}
	guiLn, err := listenGUI(cfg.GUI)
	if err != nil {
		return err
	}
	defer guiLn.Close()

	database, err := db.Open(filepath.Join(cfg.Home, databaseFile))
	if err != nil {
		return err
	}
	defer database.Close()

	net, err := p2p.New(p2pCfg)
	if err != nil {
		return err
	}
	defer net.Close()
	if err := net.Join(p2p.JobsTopic, nil); err != nil {
		return err
	}

	store, err := assets.New(assets.Config{
		Dir:           filepath.Join(cfg.Home, assetsDir),
		DB:            database,
		Host:          net.RoutedHost(),
		Providers:     net,
		MaxUploadRate: uploadRate,
		CacheQuota:    quota,
		Logger:        log.With("component", "assets"),
	})
	if err != nil {
		return err
	}

	token := newToken()
	guiURL := "http://" + guiLn.Addr().String() + "/"
	srv, err := gui.NewServer(gui.Config{
		Token:  token,
		Node:   nodeInfo{net: net, gui: guiURL},
		Assets: assetsAPI{store},
		Logger: log.With("component", "gui"),
	})
	if err != nil {
		return err
	}
	httpSrv := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}

	// Components stop in order: API, asset store (torrent client), then the
	// libp2p node by the deferred Close above, then the database.
	netCtx, stopNet := context.WithCancel(context.WithoutCancel(ctx))
	defer stopNet()
	storeCtx, stopStore := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStore()
	netDone := make(chan error, 1)
	go func() { netDone <- net.Run(netCtx) }()
	var storeErr error
	storeDone := make(chan struct{})
	go func() { storeErr = store.Run(storeCtx); close(storeDone) }()

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := httpSrv.Serve(guiLn); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving API: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		select {
		case <-storeDone:
			return fmt.Errorf("asset store stopped: %v", storeErr)
		case <-gctx.Done():
			return nil
		}
	})
	if err := gui.WriteEndpoint(cfg.Home, gui.Endpoint{URL: guiURL, Token: token, PID: os.Getpid()}); err != nil {
		httpSrv.Close()
		return err
	}
	defer os.Remove(filepath.Join(cfg.Home, gui.APIFile))
	started := Started{PeerID: net.ID().String(), GUI: guiURL}
	for _, a := range net.Addrs() {
		started.Addrs = append(started.Addrs, a.String())
	}
	log.Info("nodeStarted", "peer", started.PeerID, "gui", guiURL)
	if ready != nil {
		ready(started)
	}

	<-gctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	httpSrv.Shutdown(shutdownCtx)
	stopStore()
	<-storeDone
	stopNet()
	<-netDone
	log.Info("nodeStopped")
	if err := g.Wait(); err != nil {
		return err
	}
	if storeErr != nil && !errors.Is(storeErr, context.Canceled) {
		return fmt.Errorf("asset store: %w", storeErr)
	}
	return nil
}

// p2pConfig turns the node's settings into the libp2p node's.
func p2pConfig(cfg Config) (p2p.Config, error) {
	key, err := loadIdentity(cfg.Home)
	if err != nil {
		return p2p.Config{}, err
	}
	pc := p2p.Config{Identity: key, MDNS: !cfg.NoMDNS, Logger: cfg.Logger.With("component", "p2p")}
	for _, s := range cfg.Listen {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return p2p.Config{}, fmt.Errorf("bad listen address %q: %w", s, err)
		}
		pc.ListenAddrs = append(pc.ListenAddrs, a)
	}
	for _, s := range cfg.Bootstrap {
		ai, err := peer.AddrInfoFromString(s)
		if err != nil {
			return p2p.Config{}, fmt.Errorf("bad bootstrap address %q (want /ip4/…/tcp/…/p2p/<peer ID>): %w", s, err)
		}
		pc.Bootstrap = append(pc.Bootstrap, *ai)
	}
	if cfg.SwarmKey != "" {
		f, err := os.Open(cfg.SwarmKey)
		if err != nil {
			return p2p.Config{}, fmt.Errorf("swarm key: %w", err)
		}
		defer f.Close()
		psk, err := pnet.DecodeV1PSK(f)
		if err != nil {
			return p2p.Config{}, fmt.Errorf("swarm key %s: %w", cfg.SwarmKey, err)
		}
		pc.SwarmKey = psk
	}
	return pc, nil
}

// listenGUI opens the API listener, refusing anything but loopback.
func listenGUI(addr string) (net.Listener, error) {
	if addr == "" {
		addr = DefaultGUI
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("bad GUI address %q (want HOST:PORT): %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("GUI address %q is not loopback: the API serves only this machine", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("GUI: %w", err)
	}
	return ln, nil
}
