package assets

import (
	"database/sql"
	"fmt"
	"os"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
)

// stored describes what commit records besides the asset's row.
type stored struct {
	pinned   bool
	kind     kind
	contents []contentRow    // a unit's contents
	refs     []metainfo.Hash // the units a listing's files link to
}

// commit moves a verified tree from src into the store as asset ih, makes it
// read-only, records it and starts seeding it. If the asset is already
// stored, src is discarded and only pinning is raised.
func (s *Store) commit(ih metainfo.Hash, src string, info *metainfo.Info, infoBytes []byte, st stored) error {
	dst := s.dataDir(ih)
	s.gcMu.Lock() // no collection between the existence check and the insert
	defer s.gcMu.Unlock()
	if _, err := s.row(ih); err == nil {
		if err := removeTree(src); err != nil {
			s.log.Warn("duplicateCopyNotRemoved", "path", src, "err", err)
		}
		return s.record(ih, info, infoBytes, st)
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
	if err := s.record(ih, info, infoBytes, st); err != nil {
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

// record writes the asset's row, and its contents or references, at once.
func (s *Store) record(ih metainfo.Hash, info *metainfo.Info, infoBytes []byte, st stored) error {
	if err := s.insertRow(ih, info, infoBytes, st.pinned, st.kind); err != nil {
		return err
	}
	if len(st.contents) == 0 && len(st.refs) == 0 {
		return nil
	}
	err := s.inTx(func(tx *sql.Tx) error {
		for _, c := range st.contents {
			if _, err := tx.Exec(`INSERT OR IGNORE INTO contents (content, unit, path, size) VALUES (?, ?, ?, ?)`,
				c.content[:], c.unit[:], c.path, c.size); err != nil {
				return err
			}
		}
		for _, u := range st.refs {
			if _, err := tx.Exec(`INSERT OR IGNORE INTO asset_refs (listing, unit) VALUES (?, ?)`, ih[:], u[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording the contents of %s: %w", ih, err)
	}
	return nil
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
