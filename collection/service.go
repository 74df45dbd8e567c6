package collection

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/renderswarm/renderswarm/assets"
	"github.com/renderswarm/renderswarm/internal/db"
	"github.com/renderswarm/renderswarm/p2p"
)

//go:embed migrations/*.sql
var migrations embed.FS

const (
	// Topic carries new records as their owners publish them.
	Topic = "/renderswarm/collections/1"
	// Protocol answers "which versions of OWNER/NAME do you hold".
	Protocol protocol.ID = "/renderswarm/collections/1"

	maxVersionsAnswered = 256
	lookupTimeout       = 8 * time.Second // finding record holders
	enoughAnswers       = 3
	pollInterval        = 10 * time.Minute // followed collections, besides gossip
	reprovideInterval   = 12 * time.Hour
)

// Store is what collections need of the asset store.
type Store interface {
	AddListing(ctx context.Context, paths []string) (assets.Info, error)
	Get(ctx context.Context, c cid.Cid, progress func(assets.Progress)) (assets.Info, error)
	Pin(c cid.Cid, pinned bool) error
}

// Network is what collections need of the libp2p node (*p2p.Node).
type Network interface {
	Provide(ctx context.Context, c cid.Cid) error
	FindProviders(ctx context.Context, c cid.Cid) <-chan peer.AddrInfo
	Call(ctx context.Context, p peer.ID, proto protocol.ID, req []byte) ([]byte, error)
	Publish(ctx context.Context, topic string, data []byte) error
	Subscribe(ctx context.Context, topic string, handle func(p2p.Message)) error
}

var _ Network = (*p2p.Node)(nil)

// Config configures a Service; every field is required but Logger (nil
// means slog.Default()).
type Config struct {
	Key    crypto.PrivKey // the node's identity: it owns the collections published here
	DB     *sql.DB
	Store  Store
	Net    Network
	Logger *slog.Logger
}

// Service keeps collection records, publishes this node's collections and
// follows others'.
type Service struct {
	cfg  Config
	log  *slog.Logger
	self peer.ID

	mu     sync.Mutex // store: check and insert together
	wakeCh chan struct{}
}

// New checks cfg and migrates the tables; it starts nothing.
func New(cfg Config) (*Service, error) {
	if cfg.Key == nil || cfg.DB == nil || cfg.Store == nil || cfg.Net == nil {
		return nil, errors.New("collection: Key, DB, Store and Net are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	self, err := peer.IDFromPrivateKey(cfg.Key)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(context.Background(), cfg.DB, "collection", migrations, "migrations"); err != nil {
		return nil, fmt.Errorf("collection: %w", err)
	}
	return &Service{cfg: cfg, log: cfg.Logger, self: self, wakeCh: make(chan struct{}, 1)}, nil
}

// ValidateGossip is the topic's validator: a record must decode and verify.
func ValidateGossip(_ peer.ID, data []byte) error {
	_, err := Decode(data)
	return err
}

// Run takes records from the topic, fetches new versions of followed
// collections, and provides the keys of the collections it holds records
// of, until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		if err := s.cfg.Net.Subscribe(ctx, Topic, s.gossiped); err != nil && ctx.Err() == nil {
			s.log.Warn("collectionTopicEnded", "err", err)
		}
	})
	wg.Go(func() { s.reprovide(ctx) })
	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	for {
		s.follow(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-s.wakeCh:
		case <-poll.C:
		}
	}
}

func (s *Service) wake() {
	select {
	case s.wakeCh <- struct{}{}:
	default:
	}
}

// gossiped stores a record from the topic; a new version of a followed
// collection wakes the follower.
func (s *Service) gossiped(m p2p.Message) {
	r, err := Decode(m.Data)
	if err != nil {
		return // the validator let it through: never expected
	}
	isNew, err := s.store(r, true)
	if err != nil {
		s.log.Debug("collectionRecordRefused", "record", r.Ref(), "from", m.From, "err", err)
		return
	}
	if isNew {
		s.log.Info("collectionVersionSeen", "record", r.Ref(), "listing", r.Listing)
		s.wake()
	}
}

// Publish adds dir as a listing and signs it as the next version of this
// node's collection name (or as version, which must be after the newest),
// then announces it.
func (s *Service) Publish(ctx context.Context, name, dir string, version uint64) (Record, error) {
	if err := CheckName(name); err != nil {
		return Record{}, err
	}
	next := uint64(1)
	if head, err := s.head(s.self, name); err == nil {
		next = head.Version + 1
	} else if !errors.Is(err, ErrUnknown) {
		return Record{}, err
	}
	if version == 0 {
		version = next
	} else if version < next {
		return Record{}, fmt.Errorf("%w: %s version %d is not after version %d", ErrBackwards, name, version, next-1)
	}
	info, err := s.cfg.Store.AddListing(ctx, []string{dir})
	if err != nil {
		return Record{}, err
	}
	r, err := Record{Owner: s.self, Name: name, Version: version, Listing: info.CID, Created: time.Now().Unix()}.Sign(s.cfg.Key)
	if err != nil {
		return Record{}, err
	}
	if _, err := s.store(r, true); err != nil {
		return Record{}, err
	}
	s.announce(ctx, r)
	s.log.Info("collectionPublished", "record", r.Ref(), "listing", r.Listing)
	return r, nil
}

// announce gossips a record and provides its collection's key.
func (s *Service) announce(ctx context.Context, r Record) {
	data, err := r.Marshal()
	if err == nil {
		err = s.cfg.Net.Publish(ctx, Topic, data)
	}
	if err != nil {
		s.log.Warn("collectionRecordNotGossiped", "record", r.Ref(), "err", err)
	}
	s.provide(ctx, Ref{Owner: r.Owner, Name: r.Name})
}

func (s *Service) provide(ctx context.Context, ref Ref) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.cfg.Net.Provide(ctx, ref.Key()); err != nil && ctx.Err() == nil {
		s.log.Warn("collectionNotProvided", "collection", ref, "err", err)
	}
}

// Import stores a record given by hand (a file), as news: it must verify
// and be newer than the versions known.
func (s *Service) Import(data []byte) (Record, error) {
	r, err := Decode(data)
	if err != nil {
		return Record{}, err
	}
	if _, err := s.store(r, true); err != nil {
		return Record{}, err
	}
	s.wake()
	return r, nil
}

// Record returns the signed encoding of a stored version (0: the newest).
func (s *Service) Record(ref Ref) ([]byte, error) {
	var r Record
	var err error
	if ref.Version == 0 {
		r, err = s.head(ref.Owner, ref.Name)
	} else {
		r, err = s.version(ref)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	return r.Marshal()
}

// Resolve finds the record ref names: it asks the record holders on the
// network for their versions (bounded), then answers from what is stored.
func (s *Service) Resolve(ctx context.Context, ref Ref) (Record, error) {
	if ref.Version != 0 {
		if r, err := s.version(ref); err == nil {
			return r, nil
		}
	}
	s.lookup(ctx, ref)
	var r Record
	var err error
	if ref.Version == 0 {
		r, err = s.head(ref.Owner, ref.Name)
	} else {
		r, err = s.version(ref)
	}
	if err != nil {
		return Record{}, fmt.Errorf("%s: %w", ref, err)
	}
	return r, nil
}

// Versions lists a collection's versions, newest first, after asking the
// network.
func (s *Service) Versions(ctx context.Context, ref Ref) ([]Record, error) {
	s.lookup(ctx, ref)
	out, err := s.stored(ref.Owner, ref.Name, 1<<20)
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("%s: %w", Ref{Owner: ref.Owner, Name: ref.Name}, ErrUnknown)
	}
	return out, err
}

// versionsRequest asks a peer for the versions it holds.
type versionsRequest struct {
	Owner string `json:"owner"`
	Name  string `json:"name"`
}

type versionsAnswer struct {
	Records [][]byte `json:"records"`
}

// lookup asks the holders of ref's collection for their records and
// stores the valid ones, within lookupTimeout.
func (s *Service) lookup(ctx context.Context, ref Ref) {
	if ref.Owner == s.self {
		return // this node publishes it: nobody knows more
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	req, _ := json.Marshal(versionsRequest{Owner: ref.Owner.String(), Name: ref.Name})
	answers := 0
	learnt := false
	for ai := range s.cfg.Net.FindProviders(ctx, ref.Key()) {
		if ai.ID == s.self {
			continue
		}
		resp, err := s.cfg.Net.Call(ctx, ai.ID, Protocol, req)
		if err != nil {
			s.log.Debug("collectionLookupFailed", "collection", ref, "peer", ai.ID, "err", err)
			continue
		}
		var a versionsAnswer
		if err := json.Unmarshal(resp, &a); err != nil {
			continue
		}
		for _, data := range a.Records {
			r, err := Decode(data)
			if err != nil || r.Owner != ref.Owner || r.Name != ref.Name {
				s.log.Debug("collectionRecordRefused", "collection", ref, "peer", ai.ID, "err", err)
				continue
			}
			if isNew, err := s.store(r, false); err != nil {
				s.log.Debug("collectionRecordRefused", "record", r.Ref(), "peer", ai.ID, "err", err)
			} else if isNew {
				learnt = true
			}
		}
		if answers++; answers >= enoughAnswers {
			break
		}
	}
	if learnt {
		go s.provide(context.WithoutCancel(ctx), Ref{Owner: ref.Owner, Name: ref.Name})
	}
}

// Handler answers versions requests from peers.
func (s *Service) Handler() p2p.Handler {
	return func(_ context.Context, _ peer.ID, req []byte) ([]byte, error) {
		var q versionsRequest
		if err := json.Unmarshal(req, &q); err != nil {
			return nil, fmt.Errorf("bad request: %v", err)
		}
		owner, err := peer.Decode(q.Owner)
		if err != nil {
			return nil, fmt.Errorf("bad owner: %v", err)
		}
		list, err := s.stored(owner, q.Name, maxVersionsAnswered)
		if err != nil {
			return nil, errors.New("records unreadable")
		}
		var a versionsAnswer
		for _, r := range list {
			data, err := r.Marshal()
			if err == nil {
				a.Records = append(a.Records, data)
			}
		}
		return json.Marshal(a)
	}
}

// Follow sets whether the node fetches new versions of ref's collection as
// they appear.
func (s *Service) Follow(ref Ref, on bool) error {
	var err error
	if on {
		_, err = s.cfg.DB.Exec(`INSERT OR IGNORE INTO collection_follows (owner, name) VALUES (?, ?)`, ref.Owner.String(), ref.Name)
		s.wake()
	} else {
		_, err = s.cfg.DB.Exec(`DELETE FROM collection_follows WHERE owner = ? AND name = ?`, ref.Owner.String(), ref.Name)
	}
	if err != nil {
		return fmt.Errorf("following %s: %w", ref, err)
	}
	return nil
}

// follow fetches the newest version of every followed collection that has
// not been fetched yet, and pins it.
func (s *Service) follow(ctx context.Context) {
	refs, fetched, err := s.follows()
	if err != nil {
		s.log.Warn("followsUnreadable", "err", err)
		return
	}
	for _, ref := range refs {
		r, err := s.Resolve(ctx, ref)
		if err != nil || r.Version <= fetched[ref] {
			continue
		}
		if _, err := s.cfg.Store.Get(ctx, r.Listing, nil); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("followedVersionNotFetched", "record", r.Ref(), "err", err)
			}
			continue
		}
		if err := s.cfg.Store.Pin(r.Listing, true); err != nil {
			s.log.Warn("followedVersionNotPinned", "record", r.Ref(), "err", err)
		}
		if _, err := s.cfg.DB.Exec(`UPDATE collection_follows SET fetched = ? WHERE owner = ? AND name = ?`,
			r.Version, ref.Owner.String(), ref.Name); err != nil {
			s.log.Warn("followsUnreadable", "err", err)
		}
		s.log.Info("followedVersionFetched", "record", r.Ref(), "listing", r.Listing)
	}
}

// reprovide announces, now and periodically, the keys of the collections
// this node holds records of, so that lookups find it.
func (s *Service) reprovide(ctx context.Context) {
	t := time.NewTicker(reprovideInterval)
	defer t.Stop()
	for {
		list, err := s.List()
		if err != nil {
			s.log.Warn("collectionsUnreadable", "err", err)
		}
		for _, c := range list {
			if ctx.Err() != nil {
				return
			}
			if id, err := peer.Decode(c.Owner); err == nil && c.Head > 0 {
				s.provide(ctx, Ref{Owner: id, Name: c.Name})
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
