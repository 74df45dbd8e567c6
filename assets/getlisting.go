package assets

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/job"
)

const (
	// unitFetches is how many units of one listing download at once.
	unitFetches = 4
	// maxRemembered bounds the listing dictionaries kept for listings
	// not stored (listing_meta).
	maxRemembered = 1000
)

// fetchListing makes a listing complete: it fetches the units holding the
// contents this node lacks (and only those), links the listing's files
// from its units, checks them against the listing's pieces and stores it.
func (s *Store) fetchListing(ctx context.Context, c cid.Cid, infoBytes []byte, hints []torrent.PeerInfo, progress func(Progress)) (Info, error) {
	fail := func(err error) (Info, error) { return Info{}, fmt.Errorf("getting %s: %w", c, err) }
	l, err := parseListing(infoBytes)
	if err != nil {
		return fail(err)
	}
	ih := metainfo.Hash(sha1.Sum(infoBytes))
	s.rememberListing(ih, infoBytes)
	var holds []func()
	defer func() {
		for _, h := range holds {
			h()
		}
	}()
	locs, need, err := s.resolve(l, &holds)
	if err != nil {
		return fail(err)
	}
	if err := s.fetchUnits(ctx, need, hints, &holds, progress); err != nil {
		return fail(err)
	}
	if len(need) > 0 {
		if locs, need, err = s.resolve(l, &holds); err != nil {
			return fail(err)
		}
		if len(need) > 0 {
			return fail(fmt.Errorf("%d units fetched but not all the listing's contents are in them", len(need)))
		}
	}
	view, err := os.MkdirTemp(filepath.Join(s.cfg.Dir, "staging"), "view-")
	if err != nil {
		return fail(err)
	}
	defer removeTree(view)
	rowsByFile := make([]contentRow, len(l.Entries))
	for i := range l.Entries {
		rowsByFile[i] = locs[l.content(i)]
	}
	units, err := s.linkView(view, l, rowsByFile)
	if err != nil {
		return fail(err)
	}
	total := l.Size()
	progress(Progress{Phase: "verifying", Total: total})
	last := time.Now()
	err = verifyDir(ctx, view, l.info, func(done int64) {
		if time.Since(last) >= progressInterval {
			last = time.Now()
			progress(Progress{Phase: "verifying", Done: done, Total: total})
		}
	})
	if err != nil {
		return fail(fmt.Errorf("files do not match the listing: %w", err))
	}
	if err := s.commit(ih, view, l.info, infoBytes, stored{kind: kindListing, refs: units}); err != nil {
		return fail(err)
	}
	s.announce(c)
	s.collect(ih)
	r, err := s.row(ih)
	if err != nil {
		return fail(err)
	}
	progress(Progress{Phase: "done", Done: r.Size, Total: r.Size})
	return r.Info, nil
}

// unitNeed is a unit to fetch for a listing.
type unitNeed struct {
	ih    metainfo.Hash
	pack  bool
	bytes int64 // of the listing's contents it brings
}

// resolve finds where the listing's contents are stored, holding those
// units, and lists the units to fetch for the others.
func (s *Store) resolve(l *Listing, holds *[]func()) (map[metainfo.Hash]contentRow, []unitNeed, error) {
	var want []metainfo.Hash
	for i, e := range l.Entries {
		if e.Size > 0 {
			want = append(want, l.content(i))
		}
	}
	s.gcMu.Lock() // no collection between finding a unit and holding it
	defer s.gcMu.Unlock()
	locs, err := s.locate(want)
	if err != nil {
		return nil, nil, err
	}
	held := map[metainfo.Hash]bool{}
	for _, r := range locs {
		if !held[r.unit] {
			held[r.unit] = true
			s.held[r.unit]++
			u := r.unit
			*holds = append(*holds, func() { s.unhold(u) })
		}
	}
	byUnit := map[metainfo.Hash]*unitNeed{}
	var order []metainfo.Hash
	counted := map[metainfo.Hash]bool{}
	for i, e := range l.Entries {
		c := l.content(i)
		if e.Size == 0 || counted[c] {
			continue
		}
		if _, ok := locs[c]; ok {
			continue
		}
		counted[c] = true
		u, pack := c, false
		if in := l.ext.In[i]; in >= 0 {
			u, pack = l.packs[in], true
		}
		n := byUnit[u]
		if n == nil {
			n = &unitNeed{ih: u, pack: pack}
			byUnit[u] = n
			order = append(order, u)
		}
		n.bytes += e.Size
	}
	need := make([]unitNeed, 0, len(order))
	for _, u := range order {
		need = append(need, *byUnit[u])
	}
	return locs, need, nil
}

// fetchUnits gets the units, a few at a time, reporting their sum as one
// download.
func (s *Store) fetchUnits(ctx context.Context, need []unitNeed, hints []torrent.PeerInfo, holds *[]func(), progress func(Progress)) error {
	if len(need) == 0 {
		return nil
	}
	var total int64
	for _, n := range need {
		total += n.bytes
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var mu sync.Mutex
	done := make([]int64, len(need))
	peers := make([]int, len(need))
	var rate float64
	report := func(i int, p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Total > 0 {
			// A pack may hold more than this listing takes from it.
			done[i] = p.Done * need[i].bytes / p.Total
		}
		peers[i] = p.Peers
		var sum int64
		np := 0
		for k := range done {
			sum += done[k]
			np = max(np, peers[k])
		}
		rate = p.Rate
		progress(Progress{Phase: "downloading", Done: sum, Total: total, Peers: np, Rate: rate})
	}
	progress(Progress{Phase: "downloading", Total: total})
	sem := make(chan struct{}, unitFetches)
	var wg sync.WaitGroup
	for i, n := range need {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			c := job.AssetCID(n.ih)
			_, err := s.get(ctx, c, getOpts{unit: true, pack: n.pack, hints: hints},
				func(p Progress) { report(i, p) })
			if err == nil {
				var release func()
				if release, err = s.Hold(c); err == nil {
					mu.Lock()
					*holds = append(*holds, release)
					mu.Unlock()
				}
			}
			if err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// rememberListing keeps a listing's info dictionary, so that diffs and
// collection views need not fetch it again.
func (s *Store) rememberListing(ih metainfo.Hash, infoBytes []byte) {
	if _, err := s.cfg.DB.Exec(`INSERT INTO listing_meta (infohash, info, seen) VALUES (?, ?, ?)
		ON CONFLICT (infohash) DO UPDATE SET seen = excluded.seen`, ih[:], infoBytes, time.Now().UnixMilli()); err != nil {
		s.log.Warn("listingNotRemembered", "cid", job.AssetCID(ih), "err", err)
	}
	if _, err := s.cfg.DB.Exec(`DELETE FROM listing_meta WHERE infohash NOT IN
		(SELECT infohash FROM listing_meta ORDER BY seen DESC LIMIT ?)`, maxRemembered); err != nil {
		s.log.Warn("listingNotRemembered", "cid", job.AssetCID(ih), "err", err)
	}
}
