package assets

import (
	"fmt"
	"os"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
)

// commit moves a verified tree from src into the store as asset ih, makes it
// read-only, records it and starts seeding it. If the asset is already
// stored, src is discarded and only pinning is raised.
func (s *Store) commit(ih metainfo.Hash, src string, info *metainfo.Info, infoBytes []byte, pinned bool) error {
	dst := s.dataDir(ih)
	s.gcMu.Lock() // no collection between the existence check and the insert
	defer s.gcMu.Unlock()
	if _, err := s.row(ih); err == nil {
		if err := removeTree(src); err != nil {
			s.log.Warn("duplicateCopyNotRemoved", "path", src, "err", err)
		}
		return s.insertRow(ih, info, infoBytes, pinned)
	}
	if err := removeTree(dst); err != nil {
		return fmt.Errorf("clearing %s: %w", dst, err)
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("storing asset: %w", err)
	}
	if err := makeReadOnly(dst); err != nil {
		return fmt.Errorf("making %s read-only: %w", dst, err)
	}
	if err := s.insertRow(ih, info, infoBytes, pinned); err != nil {
		return err
	}
	s.mu.Lock()
	cl := s.client
	s.mu.Unlock()
	if cl == nil {
		return ErrClosed
	}
	return s.seed(cl, ih, infoBytes)
}

// connectedPeers lists the peers a torrent is connected to.
func (s *Store) connectedPeers(t *torrent.Torrent) []torrent.PeerInfo {
	var out []torrent.PeerInfo
	for _, pc := range t.PeerConns() {
		if pc.RemoteAddr == nil {
			continue
		}
		if id, err := s.book.lookup(pc.RemoteAddr.String()); err == nil {
			out = append(out, s.book.peerInfo(id))
		}
	}
	return out
}
