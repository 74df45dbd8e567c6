package assets

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/job"
)

// Listing returns the listing c names, from the store, from the listings
// seen before, or else by fetching only its info dictionary from peers.
// It fails with ErrNotListing for a plain torrent.
func (s *Store) Listing(ctx context.Context, c cid.Cid) (*Listing, error) {
	ih, err := job.InfoHash(c)
	if err != nil {
		return nil, err
	}
	if r, err := s.row(ih); err == nil {
		return parseListingOf(c, r.infoBytes)
	}
	var infoBytes []byte
	err = s.cfg.DB.QueryRow(`SELECT info FROM listing_meta WHERE infohash = ?`, ih[:]).Scan(&infoBytes)
	if err != nil && !isNoRows(err) {
		return nil, fmt.Errorf("reading listings: %w", err)
	}
	if err != nil {
		if infoBytes, err = s.fetchInfo(ctx, c, ih); err != nil {
			return nil, fmt.Errorf("getting the listing %s: %w", c, err)
		}
	}
	l, err := parseListingOf(c, infoBytes)
	if err == nil {
		s.rememberListing(ih, infoBytes)
	}
	return l, err
}

func parseListingOf(c cid.Cid, infoBytes []byte) (*Listing, error) {
	l, err := parseListing(infoBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c, err)
	}
	return l, nil
}

// fetchInfo fetches an asset's info dictionary from its providers, and not
// its data.
func (s *Store) fetchInfo(ctx context.Context, c cid.Cid, ih metainfo.Hash) ([]byte, error) {
	cl, err := s.waitClient(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(filepath.Join(s.cfg.Dir, "staging"), "info-")
	if err != nil {
		return nil, err
	}
	defer removeTree(dir)
	st := newStagingStorage(dir, s.log, func(error) {})
	defer st.Close()
	t, isNew := cl.AddTorrentOpt(torrent.AddTorrentOpts{InfoHash: ih, Storage: st})
	if isNew {
		defer t.Drop()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d := newDiscovery(s, t, c)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { d.run(ctx) })
	select {
	case <-t.GotInfo():
	case <-ctx.Done():
		if d.found() == 0 {
			return nil, fmt.Errorf("no provider found: %w", ctx.Err())
		}
		return nil, fmt.Errorf("%d peers found but none sent the metadata: %w", d.found(), ctx.Err())
	}
	b := t.Metainfo().InfoBytes
	if metainfo.Hash(sha1.Sum(b)) != ih {
		return nil, errors.New("metadata does not match the CID")
	}
	return b, nil
}

// Change is one difference between two listings.
type Change struct {
	Path string `json:"path"`
	// Kind is "added", "removed", "changed" (other content) or "mode".
	Kind string `json:"kind"`
	Size int64  `json:"size"` // in the newer listing (the older for removed)
}

// Diff lists what changed from listing a to listing b, by path.
func Diff(a, b *Listing) []Change {
	old := make(map[string]Entry, len(a.Entries))
	for _, e := range a.Entries {
		old[e.Path] = e
	}
	var out []Change
	for _, e := range b.Entries {
		o, ok := old[e.Path]
		delete(old, e.Path)
		switch {
		case !ok:
			out = append(out, Change{e.Path, "added", e.Size})
		case o.Content != e.Content:
			out = append(out, Change{e.Path, "changed", e.Size})
		case o.Exec != e.Exec:
			out = append(out, Change{e.Path, "mode", e.Size})
		}
	}
	for p, e := range old {
		out = append(out, Change{p, "removed", e.Size})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
