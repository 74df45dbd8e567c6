package assets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/job"
)

const (
	progressInterval = 250 * time.Millisecond
	// stallTimeout is how long a download may make no progress before it is
	// kicked: peers looked up and re-added, and once downloading, the torrent
	// dropped and re-added with its verified pieces kept. Rare stalls of an
	// anacrolix torrent with a connected seeder were seen (60 s; and about
	// one in 20 test transfers here), which this resolves.
	defaultStallTimeout = 10 * time.Second // of no payload received
)

// errListing ends the download of an info dictionary that is a listing:
// its files are fetched unit by unit (fetchListing).
var errListing = errors.New("asset is a listing")

// fetch is one download in progress, shared by concurrent Gets of a CID.
type fetch struct {
	started time.Time
	done    chan struct{}
	info    Info
	err     error
	t       *torrent.Torrent // guarded by Store.mu
}

// Get makes the asset c complete in the store: it finds providers, fetches
// the metadata and the data from them, verifies it and seeds it. A fetched
// asset is cached (not pinned). progress, if not nil, is called from Get's
// goroutine. Get gives up when ctx ends, with an error saying how far it got.
// Concurrent Gets of one CID share a download, which follows the first
// caller's ctx.
func (s *Store) Get(ctx context.Context, c cid.Cid, progress func(Progress)) (Info, error) {
	return s.get(ctx, c, getOpts{}, progress)
}

// getOpts say what a fetch is for.
type getOpts struct {
	unit  bool // a unit of a listing: a file torrent, or with pack a pack
	pack  bool
	hints []torrent.PeerInfo // peers likely to have it
}

func (s *Store) get(ctx context.Context, c cid.Cid, o getOpts, progress func(Progress)) (Info, error) {
	if progress == nil {
		progress = func(Progress) {}
	}
	ih, err := job.InfoHash(c)
	if err != nil {
		return Info{}, fmt.Errorf("getting %s: %w", c, err)
	}
	if info, ok, err := s.cached(ih, progress); ok || err != nil {
		return info, err
	}
	cl, err := s.waitClient(ctx)
	if err != nil {
		return Info{}, fmt.Errorf("getting %s: %w", c, err)
	}
	s.mu.Lock()
	if f, ok := s.fetches[ih]; ok {
		s.mu.Unlock()
		select {
		case <-f.done:
			return f.info, f.err
		case <-ctx.Done():
			return Info{}, fmt.Errorf("getting %s: %w", c, ctx.Err())
		}
	}
	f := &fetch{started: time.Now(), done: make(chan struct{})}
	s.fetches[ih] = f
	s.mu.Unlock()

	info, ok, err := s.cached(ih, progress) // a fetch may have finished meanwhile
	if !ok && err == nil {
		info, err = s.fetch(ctx, cl, c, ih, f, o, progress)
	}
	s.mu.Lock()
	delete(s.fetches, ih)
	f.info, f.err = info, err
	close(f.done)
	s.mu.Unlock()
	return info, err
}

func (s *Store) cached(ih metainfo.Hash, progress func(Progress)) (Info, bool, error) {
	r, err := s.row(ih)
	if errors.Is(err, ErrNotFound) {
		return Info{}, false, nil
	}
	if err != nil {
		return Info{}, false, err
	}
	s.touch(ih)
	progress(Progress{Phase: "done", Done: r.Size, Total: r.Size})
	return r.Info, true, nil
}

func (s *Store) fetch(ctx context.Context, cl *torrent.Client, c cid.Cid, ih metainfo.Hash, f *fetch, o getOpts, progress func(Progress)) (Info, error) {
	dir := s.stagingDir(ih)
	if err := removeTree(dir); err != nil {
		return Info{}, fmt.Errorf("getting %s: clearing staging: %w", c, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Info{}, fmt.Errorf("getting %s: %w", c, err)
	}
	rejected := make(chan error, 1)
	st := newStagingStorage(dir, s.log, func(err error) {
		select {
		case rejected <- err:
		default:
		}
	})
	t, _ := cl.AddTorrentOpt(torrent.AddTorrentOpts{InfoHash: ih, Storage: st})
	s.mu.Lock()
	f.t = t
	s.mu.Unlock()
	dropped := false
	defer func() {
		if !dropped {
			t.Drop()
		}
		st.Close()
		if err := removeTree(dir); err != nil {
			s.log.Warn("stagingDirNotRemoved", "dir", dir, "err", err)
		}
	}()

	fctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	// Announce at once, like a tracker announce: leechers trade pieces.
	wg.Go(func() { s.provide(fctx, c) })
	d := newDiscovery(s, t, c)
	wg.Go(func() { d.run(fctx) })
	t.AddPeers(o.hints)

	w := watch{t: t, d: d, progress: progress, phase: "finding providers", lastMove: time.Now(), stallTimeout: s.stallTimeout}
	w.onInfo = func() error {
		if o.unit {
			return checkUnit(t.Info(), o.pack)
		}
		if hasListingExt(t.Metainfo().InfoBytes) {
			return errListing
		}
		return nil
	}
	w.restart = func() error {
		infoBytes := t.Metainfo().InfoBytes
		peers := append(d.peers(), s.connectedPeers(t)...)
		t.Drop()
		t, _ = cl.AddTorrentOpt(torrent.AddTorrentOpts{InfoHash: ih, InfoBytes: infoBytes, Storage: st})
		s.mu.Lock()
		f.t = t
		s.mu.Unlock()
		d.setTorrent(t)
		w.t = t
		if t.Info() == nil {
			return errors.New("restarting a stalled download failed")
		}
		t.AddPeers(peers)
		s.restarts.Add(1)
		return nil
	}
	err := w.wait(ctx, rejected)
	if errors.Is(err, errListing) {
		infoBytes := t.Metainfo().InfoBytes
		hints := append(d.peers(), s.connectedPeers(t)...)
		cancel()
		return s.fetchListing(ctx, c, infoBytes, hints, progress)
	}
	if err != nil {
		if r, rerr := s.row(ih); rerr == nil { // added locally meanwhile
			return r.Info, nil
		}
		return Info{}, fmt.Errorf("getting %s: %w", c, err)
	}

	info, infoBytes := t.Info(), t.Metainfo().InfoBytes
	peers := append(d.peers(), s.connectedPeers(t)...)
	t.Drop()
	dropped = true
	w.report("verifying", 0)
	if err := verifyDir(ctx, dir, info, func(done int64) { w.report("verifying", done) }); err != nil {
		if ctx.Err() != nil {
			return Info{}, fmt.Errorf("getting %s: verifying: %w", c, ctx.Err())
		}
		return Info{}, fmt.Errorf("getting %s: downloaded data failed verification: %w", c, err)
	}
	rec := stored{}
	if o.unit {
		rec.kind = kindUnit
		if rec.contents, err = unitContents(ih, info, dir); err != nil {
			return Info{}, fmt.Errorf("getting %s: %w", c, err)
		}
	}
	if err := s.commit(ih, dir, info, infoBytes, rec); err != nil {
		return Info{}, fmt.Errorf("getting %s: %w", c, err)
	}
	if t2 := s.seeding(ih); t2 != nil {
		t2.AddPeers(peers)
	}
	s.announce(c)
	s.collect(ih)
	r, err := s.row(ih)
	if err != nil {
		return Info{}, fmt.Errorf("getting %s: %w", c, err)
	}
	w.report("done", r.Size)
	return r.Info, nil
}

func (s *Store) seeding(ih metainfo.Hash) *torrent.Torrent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.torrents[ih]
}

// watch follows one download, reports progress and kicks discovery when
// it stalls.
type watch struct {
	t        *torrent.Torrent
	d        *discovery
	progress func(Progress)
	phase    string
	last     int64
	lastRead int64
	lastAt   time.Time
	lastMove time.Time
	rate     float64
	spread   *spreader
	restart  func() error // replaces t after a stall
	onInfo   func() error // when the info arrives: an error ends the wait

	stallTimeout time.Duration
}

func (w *watch) report(phase string, done int64) {
	w.phase = phase
	p := Progress{Phase: phase, Done: done, Peers: len(w.t.PeerConns()), Rate: w.rate}
	if info := w.t.Info(); info != nil {
		p.Total = info.TotalLength()
	}
	w.progress(p)
}

// wait returns when every piece is complete, or with an error saying how far
// the download got.
func (w *watch) wait(ctx context.Context, rejected <-chan error) error {
	tick := time.NewTicker(progressInterval)
	defer tick.Stop()
	gotInfo := w.t.GotInfo()
	var complete <-chan struct{}
	w.report(w.phase, 0)
	for {
		select {
		case <-ctx.Done():
			return w.giveUp(ctx.Err())
		case err := <-rejected:
			return err
		case <-w.t.Closed():
			return ErrClosed
		case <-gotInfo:
			gotInfo = nil
			if err := w.onInfo(); err != nil {
				return err
			}
			complete = w.start()
		case <-complete:
			w.report("downloading", w.t.BytesCompleted())
			return nil
		case now := <-tick.C:
			if !w.tick(now) {
				continue
			}
			w.d.s.log.Warn("downloadStalledRestarting", "cid", w.d.c, "done", w.t.BytesCompleted(), "peers", len(w.t.PeerConns()))
			if err := w.restart(); err != nil {
				return err
			}
			complete = w.start()
		}
	}
}

// start downloads everything, in this downloader's own random order.
func (w *watch) start() <-chan struct{} {
	w.t.DownloadAll()
	w.spread = newSpreader(w.t)
	w.spread.top()
	w.report("downloading", w.t.BytesCompleted())
	return w.t.Complete().On()
}

// tick reports progress; it returns true when a download (past the
// metadata) has stalled and should be restarted.
func (w *watch) tick(now time.Time) (restart bool) {
	if w.spread != nil {
		w.spread.top()
	}
	done := w.t.BytesCompleted()
	if !w.lastAt.IsZero() {
		inst := float64(done-w.last) / now.Sub(w.lastAt).Seconds()
		w.rate = 0.7*w.rate + 0.3*inst
	}
	// Movement is any payload received, not completed pieces: a slow swarm
	// with big pieces completes none for a long time without being stuck.
	st := w.t.Stats()
	if got := st.BytesReadData.Int64(); got != w.lastRead || done != w.last {
		w.lastRead, w.lastMove = got, now
	}
	w.last, w.lastAt = done, now
	phase := w.phase
	if phase == "finding providers" && w.d.found() > 0 {
		phase = "fetching metadata"
	}
	w.report(phase, done)
	if now.Sub(w.lastMove) > w.stallTimeout {
		w.lastMove = now
		w.d.kick()
		w.lastRead = -1
		return w.spread != nil
	}
	return false
}

func (w *watch) giveUp(err error) error {
	switch w.phase {
	case "finding providers":
		return fmt.Errorf("no provider found: %w", err)
	case "fetching metadata":
		return fmt.Errorf("%d peers found but none sent the metadata: %w", w.d.found(), err)
	default:
		return fmt.Errorf("download incomplete, %d of %d bytes from %d peers: %w",
			w.t.BytesCompleted(), w.t.Length(), len(w.t.PeerConns()), err)
	}
}
