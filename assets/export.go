package assets

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/internal/fsutil"
	"github.com/renderswarm/renderswarm/job"
)

// Export writes a complete asset's files under dir (created if needed),
// overwriting files of the same names, writable by the user.
func (s *Store) Export(c cid.Cid, dir string) error {
	ih, err := job.InfoHash(c)
	if err != nil {
		return err
	}
	r, err := s.row(ih)
	if err != nil {
		return fmt.Errorf("exporting %s: %w", c, err)
	}
	var info metainfo.Info
	if err := bencode.Unmarshal(r.infoBytes, &info); err != nil {
		return fmt.Errorf("exporting %s: corrupt index: %w", c, err)
	}
	exec := map[string]bool{}
	if r.kind == kindListing {
		l, err := parseListing(r.infoBytes)
		if err != nil {
			return fmt.Errorf("exporting %s: %w", c, err)
		}
		for _, e := range l.Entries {
			exec[e.Path] = e.Exec
		}
	}
	s.touch(ih)
	root := s.dataDir(ih)
	for _, f := range info.UpvertedFiles() {
		rel := relPath(&info, &f)
		dst := filepath.Join(dir, rel)
		if err := os.Remove(dst); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("exporting %s: %w", c, err)
		}
		if err := fsutil.CopyFile(filepath.Join(root, rel), dst); err != nil {
			return fmt.Errorf("exporting %s: %w", c, err)
		}
		if exec[filepath.ToSlash(rel)] {
			if err := os.Chmod(dst, 0o755); err != nil {
				return fmt.Errorf("exporting %s: %w", c, err)
			}
		}
	}
	return nil
}
