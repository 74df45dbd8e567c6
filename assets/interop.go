package assets

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/job"
)

// Stock BitTorrent interop: a stored asset as a .torrent file or a magnet
// link, and a torrent made elsewhere imported with its files.

// maxTorrentFile bounds a .torrent file given to AddTorrent.
const maxTorrentFile = 32 << 20

// Torrent returns a .torrent file for a stored asset. With the BitTorrent
// listener on, it announces to this node's own tracker, so a stock client
// given only the file finds this node.
func (s *Store) Torrent(c cid.Cid) ([]byte, error) {
	r, err := s.stored(c)
	if err != nil {
		return nil, err
	}
	mi := metainfo.MetaInfo{InfoBytes: r.infoBytes, CreatedBy: "renderswarm", Comment: c.String()}
	if u := s.trackerURL(); u != "" {
		mi.Announce = u
	}
	b, err := bencode.Marshal(mi)
	if err != nil {
		return nil, fmt.Errorf("encoding torrent of %s: %w", c, err)
	}
	return b, nil
}

// Magnet returns a magnet link for a stored asset: its infohash and name,
// and with the BitTorrent listener on, this node as tracker (tr) and peer
// address (x.pe).
func (s *Store) Magnet(c cid.Cid) (string, error) {
	r, err := s.stored(c)
	if err != nil {
		return "", err
	}
	q := url.Values{}
	q.Set("dn", r.Name)
	link := "magnet:?xt=urn:btih:" + r.ih.HexString() + "&" + q.Encode()
	if u := s.trackerURL(); u != "" {
		link += "&tr=" + url.QueryEscape(u) + "&x.pe=" + url.QueryEscape(s.btAddr())
	}
	return link, nil
}

func (s *Store) stored(c cid.Cid) (row, error) {
	ih, err := job.InfoHash(c)
	if err != nil {
		return row{}, err
	}
	r, err := s.row(ih)
	if err != nil {
		return row{}, fmt.Errorf("%s: %w", c, err)
	}
	return r, nil
}

// AddTorrent imports a torrent made elsewhere: torrentFile is the .torrent,
// dataDir the directory holding its files as a BitTorrent client lays them
// out (dataDir/NAME for a single file, dataDir/NAME/... for several). Every
// piece is checked before anything is stored; the asset (pinned, seeded,
// announced) is named by the torrent's CID.
func (s *Store) AddTorrent(ctx context.Context, torrentFile []byte, dataDir string) (Info, error) {
	fail := func(err error) (Info, error) { return Info{}, fmt.Errorf("importing torrent: %w", err) }
	if len(torrentFile) > maxTorrentFile {
		return fail(fmt.Errorf("torrent file over %d bytes", maxTorrentFile))
	}
	var mi metainfo.MetaInfo
	if err := bencode.Unmarshal(torrentFile, &mi); err != nil {
		return fail(fmt.Errorf("not a torrent file: %v", err))
	}
	if len(mi.InfoBytes) == 0 {
		return fail(errors.New("not a torrent file: no info dictionary"))
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		return fail(fmt.Errorf("info dictionary: %v", err))
	}
	if err := validateInfo(&info); err != nil {
		return fail(err)
	}
	if hasListingExt(mi.InfoBytes) {
		if _, err := parseListing(mi.InfoBytes); err != nil {
			return fail(err)
		}
	}
	ih := metainfo.Hash(sha1.Sum(mi.InfoBytes))
	if _, err := s.waitClient(ctx); err != nil {
		return fail(err)
	}
	root := filepath.Join(dataDir, info.BestName())
	tmp, err := os.MkdirTemp(filepath.Join(s.cfg.Dir, "staging"), "import-")
	if err != nil {
		return fail(err)
	}
	committed := false
	defer func() {
		if !committed {
			removeTree(tmp)
		}
	}()
	for _, f := range info.UpvertedFiles() {
		rel := relPath(&info, &f)
		src := root
		if len(info.Files) > 0 {
			src = filepath.Join(root, rel)
		}
		if err := copyTree(ctx, src, filepath.Join(tmp, rel), false); err != nil {
			return fail(fmt.Errorf("the torrent's file %s: %w", filepath.ToSlash(rel), unwrapPathErr(err)))
		}
	}
	if err := verifyDir(ctx, tmp, &info, nil); err != nil {
		return fail(fmt.Errorf("files do not match the torrent: %w", err))
	}
	if err := s.commit(ih, tmp, &info, mi.InfoBytes, stored{pinned: true}); err != nil {
		return fail(err)
	}
	committed = true
	c := job.AssetCID(ih)
	s.announce(c)
	r, err := s.row(ih)
	if err != nil {
		return fail(err)
	}
	s.log.Info("torrentImported", "cid", c, "size", r.Size, "files", r.Files)
	return r.Info, nil
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
