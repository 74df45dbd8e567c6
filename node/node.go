package node

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/renderswarm/renderswarm/assets"
	"github.com/renderswarm/renderswarm/collection"
	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/internal/clock"
	"github.com/renderswarm/renderswarm/internal/db"
	"github.com/renderswarm/renderswarm/internal/usage"
	"github.com/renderswarm/renderswarm/p2p"
	"github.com/renderswarm/renderswarm/publisher"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/render/builtin"
	"github.com/renderswarm/renderswarm/volunteer"
	"github.com/renderswarm/renderswarm/work"
)

// Started describes a node that is up, as `renderswarm node` prints it.
type Started struct {
	PeerID string
	Addrs  []string
	GUI    string
}

// node is one running node's components.
type node struct {
	cfg      Config
	log      *slog.Logger
	lock     *homeLock
	db       *sql.DB
	net      *p2p.Node
	store    *assets.Store
	colls    *collection.Service
	ledger   *credits.Ledger
	pub      *publisher.Publisher
	vol      *volunteer.Volunteer // nil with NoVolunteer
	settings *settingsBox
	usage    *usage.Meter
	infos    map[string]render.Info // renderers that work here
	sandbox  *sandboxPolicy         // which of them strangers' scenes render with
	guiLn    net.Listener
	http     *http.Server
	url      string
}

// Run starts a node on cfg.Home and runs it until ctx ends, then shuts it
// down cleanly. ready, if set, is called once everything listens and the api
// file is written.
func Run(ctx context.Context, cfg Config, ready func(Started)) error {
	n, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	defer n.close()
	return n.run(ctx, ready)
}

// open builds every component; nothing runs yet. On error, what was opened
// is closed again.
func open(ctx context.Context, cfg Config) (_ *node, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &node{cfg: cfg, log: cfg.Logger, usage: &usage.Meter{}}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	if n.lock, err = lockHome(cfg.Home); err != nil {
		return nil, err
	}
	if err := writeDefaultConfig(cfg.Home); err != nil {
		return nil, fmt.Errorf("writing default config: %w", err)
	}
	key, err := loadIdentity(cfg.Home)
	if err != nil {
		return nil, err
	}
	p2pCfg, err := p2pConfig(cfg, key)
	if err != nil {
		return nil, err
	}
	settings, err := settingsFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	workDir := filepath.Join(cfg.Home, "work")
	os.RemoveAll(workDir) // scratch of a previous run
	if err := os.MkdirAll(workDir, 0o700); err != nil {
		return nil, err
	}
	if n.guiLn, err = listenGUI(cfg.GUI); err != nil {
		return nil, err
	}
	if n.db, err = db.Open(filepath.Join(cfg.Home, databaseFile)); err != nil {
		return nil, err
	}
	if err := migrateSettings(ctx, n.db); err != nil {
		return nil, err
	}
	if saved, ok, err := loadSettings(n.db); err != nil {
		return nil, err
	} else if ok {
		settings = withFlags(saved, settings, cfg.Flags)
		n.log.Info("usingSavedSettings", "cpus", settings.CPUs, "mode", settings.Mode, "paused", settings.Paused, "flagsWin", cfg.Flags)
	}
	n.settings = newSettingsBox(settings)
	backends := sharedRenderers(n.log.With("component", "render"))
	n.infos = probeRenderers(ctx, backends, n.log)
	versions := versions(n.infos)
	n.sandbox = checkSandboxes(backends, n.infos, settings.AllowUnsandboxed, !cfg.NoVolunteer, n.log)
	p2pCfg.Renderers = n.sandbox.versions(n.infos)
	if n.net, err = p2p.New(p2pCfg); err != nil {
		return nil, err
	}
	n.store, err = assets.New(assets.Config{
		Dir:           filepath.Join(cfg.Home, assetsDir),
		DB:            n.db,
		Host:          n.net.RoutedHost(),
		Providers:     n.net,
		MaxUploadRate: settings.MaxUploadRate,
		CacheQuota:    settings.CacheQuota,
		BTListen:      cfg.BTListen,
		Logger:        n.log.With("component", "assets"),
	})
	if err != nil {
		return nil, err
	}
	n.colls, err = collection.New(collection.Config{Key: key, DB: n.db, Store: n.store, Net: n.net,
		Logger: n.log.With("component", "collection")})
	if err != nil {
		return nil, err
	}
	if n.ledger, err = credits.NewLedger(n.db, n.net.ID()); err != nil {
		return nil, err
	}
	// This machine's speed prices the tasks it publishes and the renders it
	// claims for.
	measured, err := volunteer.MeasureSpeed(ctx, backends["builtin"], workDir, clock.Real{})
	if err != nil {
		return nil, fmt.Errorf("measuring speed: %w", err)
	}
	speed, err := volunteer.KeepSpeed(cfg.Home, "builtin "+builtin.Version, measured)
	if err != nil {
		n.log.Warn("speedNotKept", "err", err)
	}
	n.log.Info("speedMeasured", "speed", speed, "measured", measured)
	n.pub, err = publisher.New(ctx, publisher.Config{
		Key: key, DB: n.db, Assets: n.store, Net: n.net, Ledger: n.ledger,
		Backends: wrapBackends(backends, cfg.publisherRenderer), Infos: n.infos, WorkDir: workDir,
		ResultsDir: filepath.Join(cfg.Home, resultsDir),
		Speed:      speed,
		Logger:     n.log.With("component", "publisher"), Tune: cfg.tune,
	})
	if err != nil {
		return nil, err
	}
	if !cfg.NoVolunteer {
		client := work.NewClient(n.net)
		client.SetSpeed(speed)
		n.vol, err = volunteer.New(volunteer.Config{
			Key: key, Publishers: client, Gossip: n.net, Assets: n.store, Ledger: n.ledger,
			Backends: guardBackends(wrapBackends(backends, cfg.volunteerRenderer), n.sandbox,
				func() int64 { return memoryCap(n.settings.get()) }),
			Versions: versions, Settings: volunteerSettings(settings, n.sandbox),
			Machine: n.usage, Speed: speed, WorkDir: workDir,
			Logger: n.log.With("component", "volunteer"),
		})
		if err != nil {
			return nil, err
		}
	}
	budget := work.NewAnnounceBudget()
	if err := n.net.Join(work.JobsTopic, func(from peer.ID, data []byte) error {
		_, m, _, err := work.DecodeAnnouncement(data, from.String())
		if err != nil {
			return err
		}
		if !budget.Allow(m.Publisher, time.Now()) {
			return fmt.Errorf("%w: %s announces more than its budget", p2p.ErrIgnore, m.Publisher)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	n.net.HandleBodyRPC(work.Protocol, work.Handler(n.pub))
	if err := n.net.Join(collection.Topic, collection.ValidateGossip); err != nil {
		return nil, err
	}
	n.net.HandleRPC(collection.Protocol, n.colls.Handler())
	return n, n.startAPI()
}

// wrapBackends returns backends with wrap around each, or backends itself
// when wrap is nil (tests give a role a dishonest or failing renderer).
func wrapBackends(backends map[string]render.Backend, wrap func(render.Backend) render.Backend) map[string]render.Backend {
	if wrap == nil {
		return backends
	}
	out := make(map[string]render.Backend, len(backends))
	for name, b := range backends {
		out[name] = wrap(b)
	}
	return out
}

// startAPI builds the HTTP API; it serves once run starts.
func (n *node) startAPI() error {
	token := newToken()
	n.url = "http://" + n.guiLn.Addr().String() + "/"
	srv, err := gui.NewServer(gui.Config{
		Token:       token,
		Node:        nodeInfo{n: n},
		Assets:      assetsAPI{n.store, n.colls},
		Sharing:     assetsAPI{n.store, n.colls},
		Collections: collectionsAPI{n.colls, n.store},
		Jobs:        jobsAPI{n: n},
		Credits:     creditsAPI{n.ledger},
		Volunteer:   volunteerAPI{n: n},
		Logger:      n.log.With("component", "gui"),
	})
	if err != nil {
		return err
	}
	n.http = &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	return gui.WriteEndpoint(n.cfg.Home, gui.Endpoint{URL: n.url, Token: token, PID: os.Getpid()})
}

// component is one long-running part of the node.
type component struct {
	name string
	run  func(context.Context) error
}

// run runs the components until ctx ends or one fails, then stops them in
// reverse order of start: API, volunteer, usage, publisher, asset store,
// libp2p.
func (n *node) run(ctx context.Context, ready func(Started)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	comps := []component{
		{"p2p", n.net.Run},
		{"asset store", n.store.Run},
		{"collections", n.colls.Run},
		{"publisher", n.pub.Run},
		{"usage", n.usage.Run},
	}
	if n.vol != nil {
		comps = append(comps, component{"volunteer", n.vol.Run})
	}
	comps = append(comps, component{"API", n.serveAPI})
	stops := make([]func(), len(comps))
	var wg sync.WaitGroup
	for i, c := range comps {
		cctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		stops[i] = func() { stop(); <-done }
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done)
			if err := c.run(cctx); err != nil && cctx.Err() == nil {
				cancel(fmt.Errorf("%s: %w", c.name, err))
			} else if cctx.Err() == nil {
				cancel(fmt.Errorf("%s stopped", c.name))
			}
		}()
	}
	started := Started{PeerID: n.net.ID().String(), GUI: n.url}
	for _, a := range n.net.Addrs() {
		started.Addrs = append(started.Addrs, a.String())
	}
	n.serveDebug(ctx)
	n.log.Info("nodeStarted", "peer", started.PeerID, "gui", n.url, "sandboxWorking", n.sandbox.state().Working)
	if ready != nil {
		ready(started)
	}

	<-ctx.Done()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	wg.Wait()
	n.log.Info("nodeStopped")
	if err := context.Cause(ctx); !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// serveAPI serves the HTTP API until ctx ends, then shuts it down (open
// event streams end with it).
func (n *node) serveAPI(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- n.http.Serve(n.guiLn) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving API: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	n.http.Shutdown(shutdownCtx)
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving API: %w", err)
	}
	return nil
}

// close releases what open acquired: libp2p (after the torrent client, which
// the store's Run closed), the database, the api file, the home lock.
func (n *node) close() {
	if n.net != nil {
		n.net.Close()
	}
	if n.db != nil {
		n.db.Close()
	}
	if n.guiLn != nil {
		n.guiLn.Close()
	}
	if n.lock != nil {
		os.Remove(filepath.Join(n.cfg.Home, gui.APIFile))
		n.lock.release()
	}
}

// p2pConfig turns the node's settings into the libp2p node's.
func p2pConfig(cfg Config, key crypto.PrivKey) (p2p.Config, error) {
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
