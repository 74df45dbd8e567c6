package assets

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"github.com/renderswarm/renderswarm/internal/db"
	"github.com/renderswarm/renderswarm/job"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultCacheQuota is the CacheQuota used when Config leaves it zero.
const DefaultCacheQuota int64 = 10 << 30

// Errors callers may decide on.
var (
	ErrNotFound = errors.New("asset not in the store")
	ErrClosed   = errors.New("asset store is not running")
)

// Providers is what the store needs from content routing. The node supplies
// it from the private kad-dht.
type Providers interface {
	// Provide announces that this node has (or is fetching) c.
	Provide(ctx context.Context, c cid.Cid) error
	// FindProviders streams peers that announced c; the channel is closed
	// when the search ends or ctx is done.
	FindProviders(ctx context.Context, c cid.Cid) <-chan peer.AddrInfo
}

// Config configures a Store. Zero values are documented per field.
type Config struct {
	Dir       string    // store root, e.g. HOME/assets; required
	DB        *sql.DB   // the node's database; required
	Host      host.Host // libp2p host; a routed host that can dial a bare peer ID; required
	Providers Providers // content routing; required
	// MaxUploadRate caps all torrent uploads, bytes/s; 0 means unlimited.
	MaxUploadRate int64
	// CacheQuota is how many bytes of unpinned (fetched) content are kept;
	// 0 means DefaultCacheQuota.
	CacheQuota int64
	// PieceLength of assets made by Add, a power of two >= 64 KiB; 0 picks
	// one from the size (about 1024 pieces, 64 KiB to 4 MiB).
	PieceLength int64
	// PeerRequests caps the chunk requests queued at one peer; 0 means
	// DefaultPeerRequests. Lower spreads a rate-limited seeder's upload
	// better; higher fills long round trips.
	PeerRequests int
	// BTListen, if set (HOST:PORT), also serves the stored assets to plain
	// BitTorrent clients over TCP there, with a tracker naming only this
	// node (btlisten.go). Off by default.
	BTListen string
	Logger   *slog.Logger // nil means slog.Default()
}

// Info describes one asset.
type Info struct {
	CID      cid.Cid   `json:"cid"`
	Name     string    `json:"name"`
	Size     int64     `json:"size"`
	Files    int       `json:"files"`
	Pinned   bool      `json:"pinned"`
	Complete bool      `json:"complete"`
	Listing  bool      `json:"listing,omitempty"` // files addressed one by one (see listing.go)
	Added    time.Time `json:"added"`
}

// Progress of a Get.
type Progress struct {
	// Phase is one of "finding providers", "fetching metadata",
	// "downloading", "verifying", "done".
	Phase string  `json:"phase"`
	Done  int64   `json:"done"`  // bytes
	Total int64   `json:"total"` // bytes, 0 until the metadata is known
	Peers int     `json:"peers"` // connected torrent peers
	Rate  float64 `json:"rate"`  // bytes/s
}

// Store is the asset store. Its methods are safe for concurrent use.
type Store struct {
	cfg     Config
	log     *slog.Logger
	limiter *rate.Limiter
	book    *addrBook

	ready     chan struct{} // closed when Run has started the client
	provideCh chan cid.Cid  // announcements for Run's provider loop
	gcCh      chan struct{}

	laterMu   sync.Mutex
	later     []cid.Cid // AddLater's announcements, oldest first
	laterLast time.Time // when AddLater last queued one

	gcMu sync.Mutex            // serialises collection with commits and holds
	held map[metainfo.Hash]int // assets in use (Hold), never collected; under gcMu

	touchMu sync.Mutex
	touched map[metainfo.Hash]time.Time // when each asset's use was last recorded (touch)

	stallTimeout time.Duration // tests shorten it
	restarts     atomic.Int64  // stalled downloads restarted
	quota        atomic.Int64  // CacheQuota, changed live by SetCacheQuota

	mu       sync.Mutex
	client   *torrent.Client // nil before Run and after it returned
	bt       *btListener     // the plain BitTorrent listener, if on
	closed   bool
	fetches  map[metainfo.Hash]*fetch
	torrents map[metainfo.Hash]*torrent.Torrent // complete and open in the client (open.go)
	used     map[metainfo.Hash]uint64           // when each open asset was last used, in useSeq
	useSeq   uint64
	maxOpen  int // maxOpen; tests lower it
}

// New validates cfg and migrates the store's tables. It starts nothing;
// call Run.
func New(cfg Config) (*Store, error) {
	switch {
	case cfg.Dir == "":
		return nil, errors.New("assets: Config.Dir is required")
	case cfg.DB == nil:
		return nil, errors.New("assets: Config.DB is required")
	case cfg.Host == nil:
		return nil, errors.New("assets: Config.Host is required")
	case cfg.Providers == nil:
		return nil, errors.New("assets: Config.Providers is required")
	case cfg.MaxUploadRate < 0 || cfg.CacheQuota < 0:
		return nil, errors.New("assets: negative MaxUploadRate or CacheQuota")
	case cfg.PieceLength != 0 && (cfg.PieceLength < 64<<10 || cfg.PieceLength > maxPieceLength || cfg.PieceLength&(cfg.PieceLength-1) != 0):
		return nil, errors.New("assets: PieceLength must be a power of two from 64 KiB to 64 MiB")
	}
	if cfg.PeerRequests <= 0 {
		cfg.PeerRequests = DefaultPeerRequests
	}
	if cfg.CacheQuota == 0 {
		cfg.CacheQuota = DefaultCacheQuota
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("assets: store dir %s: %w", cfg.Dir, err)
	}
	cfg.Dir = dir
	for _, d := range []string{dir, filepath.Join(dir, "data"), filepath.Join(dir, "staging")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("assets: creating %s: %w", d, err)
		}
	}
	if err := db.Migrate(context.Background(), cfg.DB, "assets", migrations, "migrations"); err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	s := &Store{
		cfg:     cfg,
		log:     cfg.Logger,
		limiter: rate.NewLimiter(limitFor(cfg.MaxUploadRate), uploadBurst),
		book:    newAddrBook(),

		stallTimeout: defaultStallTimeout,
		ready:        make(chan struct{}),
		provideCh:    make(chan cid.Cid, 256),
		gcCh:         make(chan struct{}, 1),
		fetches:      make(map[metainfo.Hash]*fetch),
		held:         make(map[metainfo.Hash]int),
		torrents:     make(map[metainfo.Hash]*torrent.Torrent),
		used:         make(map[metainfo.Hash]uint64),
		maxOpen:      maxOpen,
	}
	s.quota.Store(cfg.CacheQuota)
	return s, nil
}

// uploadBurst is the upload limiter's burst. It stays fixed while the rate
// changes: anacrolix caps the chunk size peers may request at the burst, so
// shrinking it under in-flight requests would break them. 16 KiB chunks fit.
const uploadBurst = 256 << 10

func limitFor(bps int64) rate.Limit {
	if bps <= 0 {
		return rate.Inf
	}
	return rate.Limit(bps)
}

// SetCacheQuota changes the cache quota live (0 means DefaultCacheQuota)
// and collects at once if the cache is now over it.
func (s *Store) SetCacheQuota(bytes int64) {
	if bytes <= 0 {
		bytes = DefaultCacheQuota
	}
	s.quota.Store(bytes)
	s.requestGC()
}

// SetUploadRate changes the upload cap live; bps <= 0 means unlimited.
func (s *Store) SetUploadRate(bps int64) {
	s.limiter.SetLimit(limitFor(bps))
}

func (s *Store) dataDir(ih metainfo.Hash) string {
	return filepath.Join(s.cfg.Dir, "data", ih.HexString())
}

func (s *Store) stagingDir(ih metainfo.Hash) string {
	return filepath.Join(s.cfg.Dir, "staging", ih.HexString())
}

// waitClient blocks until Run has started the torrent client.
func (s *Store) waitClient(ctx context.Context) (*torrent.Client, error) {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the asset store to start: %w", ctx.Err())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil, ErrClosed
	}
	return s.client, nil
}

func (s *Store) announce(c cid.Cid) {
	select {
	case s.provideCh <- c:
	default:
		s.log.Warn("provideQueueFull", "cid", c)
	}
}

// announceLater queues c for the provider loop's later announcements.
func (s *Store) announceLater(c cid.Cid) {
	s.laterMu.Lock()
	defer s.laterMu.Unlock()
	s.laterLast = time.Now()
	if len(s.later) >= maxLater {
		s.log.Debug("provideLaterFull", "cid", c)
		return
	}
	s.later = append(s.later, c)
}

// nextLater takes up to n of the later announcements: one while AddLater
// queued one within laterQuiet, n once it did not.
func (s *Store) nextLater(n int) []cid.Cid {
	s.laterMu.Lock()
	defer s.laterMu.Unlock()
	if time.Since(s.laterLast) < laterQuiet {
		n = 1
	}
	n = min(n, len(s.later))
	out := slices.Clone(s.later[:n])
	s.later = s.later[n:]
	if len(s.later) == 0 {
		s.later = nil // let the array go
	}
	return out
}

func (s *Store) requestGC() {
	select {
	case s.gcCh <- struct{}{}:
	default:
	}
}

// Path returns the read-only root of a complete asset: its files, at their
// torrent paths. Callers must not write there.
func (s *Store) Path(c cid.Cid) (string, error) {
	ih, err := job.InfoHash(c)
	if err != nil {
		return "", err
	}
	if err := s.indexed(ih); err != nil {
		return "", fmt.Errorf("asset %s: %w", c, err)
	}
	s.touch(ih)
	return s.dataDir(ih), nil
}

// List returns the complete assets and, with Complete=false, downloads in
// progress.
func (s *Store) List() ([]Info, error) {
	out, err := s.rows()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for ih, f := range s.fetches {
		in := Info{CID: job.AssetCID(ih), Added: f.started}
		if t := f.t; t != nil && t.Info() != nil {
			in.Name, in.Size, in.Files = t.Info().BestName(), t.Info().TotalLength(), len(t.Info().UpvertedFiles())
		}
		out = append(out, in)
	}
	return out, nil
}

// Pin marks an asset as pinned (never collected) or cached (collectable
// once over the quota, least recently used first).
func (s *Store) Pin(c cid.Cid, pinned bool) error {
	ih, err := job.InfoHash(c)
	if err != nil {
		return err
	}
	res, err := s.cfg.DB.Exec(`UPDATE assets SET pinned = ? WHERE infohash = ?`, pinned, ih[:])
	if err != nil {
		return fmt.Errorf("pinning %s: %w", c, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("pinning %s: %w", c, ErrNotFound)
	}
	if !pinned {
		s.requestGC()
	}
	return nil
}

// Stats are the store's transfer totals since Run started.
type Stats struct {
	Uploaded   int64 `json:"uploaded"`   // torrent payload bytes sent to peers
	Downloaded int64 `json:"downloaded"` // payload bytes received (including wasted)
	Wasted     int64 `json:"wasted"`     // received chunks that were not needed
	Seeding    int   `json:"seeding"`    // complete assets offered to peers (stored)
	Fetching   int   `json:"fetching"`   // downloads in progress
}

// Stats returns transfer totals; zero before Run.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	cl := s.client
	st := Stats{Fetching: len(s.fetches)}
	s.mu.Unlock()
	if cl == nil {
		return st
	}
	s.cfg.DB.QueryRow(`SELECT count(*) FROM assets`).Scan(&st.Seeding)
	cs := cl.Stats()
	st.Uploaded = cs.BytesWrittenData.Int64()
	st.Downloaded = cs.BytesReadData.Int64()
	st.Wasted = cs.ChunksReadWasted.Int64() * (16 << 10) // anacrolix chunks are 16 KiB
	return st
}

// key is the node's identity key, which signs listings; nil if the host
// does not hold one.
func (s *Store) key() crypto.PrivKey {
	return s.cfg.Host.Peerstore().PrivKey(s.cfg.Host.ID())
}
