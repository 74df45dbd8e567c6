package assets

import (
	"fmt"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/job"
)

// Hold keeps a complete asset from cache collection until release is
// called, so that a renderer reading it is never left with files deleted
// under it. It fails with ErrNotFound when the asset is not (or no longer)
// in the store: Get it, then Hold it again.
func (s *Store) Hold(c cid.Cid) (release func(), err error) {
	ih, err := job.InfoHash(c)
	if err != nil {
		return nil, fmt.Errorf("holding %s: %w", c, err)
	}
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	if _, err := s.row(ih); err != nil {
		return nil, err
	}
	s.held[ih]++
	released := false
	return func() {
		s.gcMu.Lock()
		defer s.gcMu.Unlock()
		if released {
			return
		}
		released = true
		s.unheldLocked(ih)
	}, nil
}

// unhold ends one internal hold of ih.
func (s *Store) unhold(ih metainfo.Hash) {
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	s.unheldLocked(ih)
}

func (s *Store) unheldLocked(ih metainfo.Hash) {
	if s.held[ih]--; s.held[ih] <= 0 {
		delete(s.held, ih)
	}
}
