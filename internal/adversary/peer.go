package adversary

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/renderswarm/renderswarm/assets"
	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/db"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/p2p"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/render/builtin"
	"github.com/renderswarm/renderswarm/work"
)

// Config configures a Peer. Zero values are documented per field.
type Config struct {
	Dir       string         // the peer's home (database, asset store, scratch); required
	Key       crypto.PrivKey // nil: a fresh identity, as a Sybil makes them
	Bootstrap []peer.AddrInfo
	// WatchResults taps the DHT requests the peer serves for results other
	// volunteers share (watch.go); copiers need it.
	WatchResults bool
	Logger       *slog.Logger // nil: discarded
}

// Peer is one adversary identity: a real libp2p node, asset store and
// ledger, the built-in renderer, and the work protocol (wire.go). Start
// runs it; Close stops it.
type Peer struct {
	cfg     Config
	key     crypto.PrivKey
	id      peer.ID
	log     *slog.Logger
	db      *sql.DB
	net     *p2p.Node
	store   *assets.Store
	ledger  *credits.Ledger
	wire    wire
	backend render.Backend
	version string // of the built-in renderer
	results *resultWatch
	scratch string // for renders

	stop context.CancelFunc
	done sync.WaitGroup // the node's and the store's Run

	mu    sync.Mutex
	stats Stats
}

// Start opens a peer in cfg.Dir and runs its libp2p node and asset store
// until Close (the store's Add and Get wait until it serves).
func Start(ctx context.Context, cfg Config) (_ *Peer, err error) {
	if cfg.Dir == "" {
		return nil, errors.New("adversary: Config.Dir is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Peer{cfg: cfg, key: cfg.Key, log: cfg.Logger, backend: builtin.New()}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if p.key == nil {
		if p.key, _, err = crypto.GenerateEd25519Key(rand.Reader); err != nil {
			return nil, err
		}
	}
	if p.id, err = peer.IDFromPrivateKey(p.key); err != nil {
		return nil, err
	}
	info, err := p.backend.Probe(ctx)
	if err != nil {
		return nil, err
	}
	p.version = info.Version
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "work"), 0o700); err != nil {
		return nil, err
	}
	if p.db, err = db.Open(filepath.Join(cfg.Dir, "adversary.db")); err != nil {
		return nil, err
	}
	p.net, err = p2p.New(p2p.Config{
		Identity: p.key,
		ListenAddrs: []ma.Multiaddr{
			ma.StringCast("/ip4/127.0.0.1/tcp/0"),
			ma.StringCast("/ip4/127.0.0.1/udp/0/quic-v1"),
		},
		Bootstrap: cfg.Bootstrap,
		Renderers: map[string]string{builtin.Name: p.version},
		Logger:    cfg.Logger.With("component", "p2p"),
	})
	if err != nil {
		return nil, err
	}
	p.store, err = assets.New(assets.Config{
		Dir: filepath.Join(cfg.Dir, "assets"), DB: p.db,
		Host: p.net.RoutedHost(), Providers: p.net,
		Logger: cfg.Logger.With("component", "assets"),
	})
	if err != nil {
		return nil, err
	}
	if p.ledger, err = credits.NewLedger(p.db, p.id); err != nil {
		return nil, err
	}
	if err := p.net.Join(work.JobsTopic, func(from peer.ID, data []byte) error {
		_, _, _, err := work.DecodeAnnouncement(data, from.String())
		return err
	}); err != nil {
		return nil, err
	}
	if cfg.WatchResults {
		if p.results, err = watchResults(p.net.Host(), p.store, p.log); err != nil {
			return nil, err
		}
	}
	p.wire = wire{client: work.NewClient(p.net), key: p.key, ledger: p.ledger}
	p.scratch = filepath.Join(cfg.Dir, "work")
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	p.stop = stop
	for _, run := range []func(context.Context) error{p.net.Run, p.store.Run} {
		p.done.Add(1)
		go func() {
			defer p.done.Done()
			if err := run(runCtx); err != nil {
				p.log.Error("adversaryComponentFailed", "err", err)
			}
		}()
	}
	return p, nil
}

// ID is the peer's identity.
func (p *Peer) ID() peer.ID { return p.id }

// AddrInfo is the peer's ID and listen addresses, for others to bootstrap
// from.
func (p *Peer) AddrInfo() peer.AddrInfo { return p.net.AddrInfo() }

// Net is the peer's libp2p node.
func (p *Peer) Net() *p2p.Node { return p.net }

// Store is the peer's asset store.
func (p *Peer) Store() *assets.Store { return p.store }

// Ledger is the peer's ledger: the receipts it countersigned.
func (p *Peer) Ledger() *credits.Ledger { return p.ledger }

// Close stops the peer: the asset store, then libp2p, then the database.
func (p *Peer) Close() error {
	if p.stop != nil {
		p.stop()
		p.done.Wait()
	}
	var errs []error
	if p.net != nil {
		errs = append(errs, p.net.Close())
	}
	if p.db != nil {
		errs = append(errs, p.db.Close())
	}
	return errors.Join(errs...)
}

// Stats is what a peer did, for tests to check that an attack was played.
type Stats struct {
	Leased    []job.Task // every task leased, in order
	Held      int        // leases open now (leased, neither delivered nor handed back nor lost)
	Renewed   int        // renewals the publisher accepted
	Committed []job.Task
	Delivered []job.Task
	Copied    []job.Task // delivered with another identity's image
	Failed    []job.Task // handed back as failed renders
	Lost      int        // leases the publisher stopped honouring
	NoWork    int        // lease requests answered with nothing to do
	Refusals  []string   // the publisher's refusals, latest last (at most maxRefusals)
}

const maxRefusals = 32

// Stats reports what the peer did so far.
func (p *Peer) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Leased = append([]job.Task(nil), s.Leased...)
	s.Committed = append([]job.Task(nil), s.Committed...)
	s.Delivered = append([]job.Task(nil), s.Delivered...)
	s.Copied = append([]job.Task(nil), s.Copied...)
	s.Failed = append([]job.Task(nil), s.Failed...)
	s.Refusals = append([]string(nil), s.Refusals...)
	return s
}

func (p *Peer) note(f func(*Stats)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(&p.stats)
}

func (p *Peer) refused(op string, err error) {
	p.log.Info("adversaryRefused", "op", op, "err", err)
	p.note(func(s *Stats) {
		s.Refusals = append(s.Refusals, fmt.Sprintf("%s: %v", op, err))
		if len(s.Refusals) > maxRefusals {
			s.Refusals = s.Refusals[1:]
		}
	})
}
