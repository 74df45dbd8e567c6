package assets

import "github.com/anacrolix/torrent/metainfo"

// collect deletes unpinned assets, least recently used first, until the
// unpinned total fits CacheQuota. It never deletes pinned assets, held
// ones (Hold), keep (the asset a Get has just returned), or a unit that a
// stored listing links to. A listing's own files are links to its units'
// files, so it costs no space itself: collecting it frees its units, which
// count as pinned while a pinned listing uses them.
func (s *Store) collect(keep metainfo.Hash) {
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	rows, err := s.allRows() // least recently used first
	if err != nil {
		s.log.Warn("cacheCollectionFailed", "err", err)
		return
	}
	refs, err := s.refsTo()
	if err != nil {
		s.log.Warn("cacheCollectionFailed", "err", err)
		return
	}
	// Units of pinned listings are pinned too.
	pinnedUnits := map[metainfo.Hash]bool{}
	for _, r := range rows {
		if r.kind == kindListing && (r.Pinned || s.held[r.ih] > 0 || r.ih == keep) {
			units, err := s.unitsOf(r.ih)
			if err != nil {
				s.log.Warn("cacheCollectionFailed", "err", err)
				return
			}
			for _, u := range units {
				pinnedUnits[u] = true
			}
		}
	}
	cost := func(r row) int64 {
		if r.Pinned || r.kind == kindListing || pinnedUnits[r.ih] {
			return 0
		}
		return r.Size
	}
	var total int64
	for _, r := range rows {
		total += cost(r)
	}
	for pass := 0; pass < 2 && total > s.quota.Load(); pass++ {
		// First pass: plain assets, unreferenced units and listings in LRU
		// order; a listing's removal frees its units for the second pass.
		for _, r := range rows {
			if total <= s.quota.Load() {
				return
			}
			if r.Pinned || r.ih == keep || s.held[r.ih] > 0 || pinnedUnits[r.ih] || (r.kind == kindUnit && refs[r.ih] > 0) {
				continue
			}
			if _, err := s.row(r.ih); err != nil {
				continue // removed in the first pass
			}
			if r.kind == kindListing {
				units, err := s.unitsOf(r.ih)
				if err != nil {
					continue
				}
				for _, u := range units {
					refs[u]--
				}
			}
			if err := s.remove(r.ih); err != nil {
				s.log.Warn("cachedAssetNotRemoved", "cid", r.CID, "err", err)
				continue
			}
			total -= cost(r)
			s.log.Info("cachedAssetRemoved", "cid", r.CID, "size", r.Size)
		}
	}
}

// remove stops seeding an asset and deletes it from the index and disk.
func (s *Store) remove(ih metainfo.Hash) error {
	s.mu.Lock()
	t := s.torrents[ih]
	delete(s.torrents, ih)
	delete(s.used, ih)
	s.mu.Unlock()
	if t != nil {
		t.Drop()
	}
	if err := s.deleteRow(ih); err != nil {
		return err
	}
	if err := removeTree(s.dataDir(ih)); err != nil {
		return err
	}
	return nil
}
