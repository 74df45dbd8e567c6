package assets

import "github.com/anacrolix/torrent/metainfo"

// collect deletes unpinned assets, least recently used first, until the
// unpinned total fits CacheQuota. It never deletes pinned assets, held
// ones (Hold) or keep (the asset a Get has just returned).
func (s *Store) collect(keep metainfo.Hash) {
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	rows, err := s.allRows() // least recently used first
	if err != nil {
		s.log.Warn("cacheCollectionFailed", "err", err)
		return
	}
	var total int64
	for _, r := range rows {
		if !r.Pinned {
			total += r.Size
		}
	}
	for _, r := range rows {
		if total <= s.quota.Load() {
			return
		}
		if r.Pinned || r.ih == keep || s.held[r.ih] > 0 {
			continue
		}
		if err := s.remove(r.ih); err != nil {
			s.log.Warn("cachedAssetNotRemoved", "cid", r.CID, "err", err)
			continue
		}
		total -= r.Size
		s.log.Info("cachedAssetRemoved", "cid", r.CID, "size", r.Size)
	}
}

// remove stops seeding an asset and deletes it from the index and disk.
func (s *Store) remove(ih metainfo.Hash) error {
	s.mu.Lock()
	t := s.torrents[ih]
	delete(s.torrents, ih)
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
