package assets

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/internal/fsutil"
	"github.com/renderswarm/renderswarm/job"
)

// Piece length bounds: about targetPieces pieces per asset, so that many
// downloaders start on different pieces and trade them early.
const (
	minPieceLength = 64 << 10
	maxAddPiece    = 4 << 20
	targetPieces   = 1024
)

func pieceLengthFor(total int64) int64 {
	l := int64(minPieceLength)
	for l < maxAddPiece && l*targetPieces < total {
		l *= 2
	}
	return l
}

// Add copies files and directories into the store as one pinned asset,
// seeds it and announces it. A single directory becomes the asset root (its
// contents are the asset's files, its name the asset's name); otherwise each
// path appears at the root under its base name. Symbolic links are followed
// for files; empty directories are not kept. Nothing is created when a path
// does not exist.
func (s *Store) Add(ctx context.Context, paths []string) (Info, error) {
	return s.add(ctx, paths, s.announce, false)
}

// AddLater is Add, announcing the asset later: after what Add and Get
// announce, a few a second while assets are being added and faster once
// they are not (laterEvery). An announcement is a DHT lookup and a record
// stored on the closest peers; a publisher taking in hundreds of results a
// second would spend its cores and its volunteers' on them while nobody
// looks for the results yet. Beyond maxLater waiting, the periodic
// reannouncement of every asset catches up. The store hard-links the files
// rather than copying them where it can (one file system): the caller must
// not change them afterwards, only remove them.
func (s *Store) AddLater(ctx context.Context, paths []string) (Info, error) {
	return s.add(ctx, paths, s.announceLater, true)
}

func (s *Store) add(ctx context.Context, paths []string, announce func(cid.Cid), link bool) (Info, error) {
	if len(paths) == 0 {
		return Info{}, errors.New("adding asset: no paths")
	}
	entries, name, err := layout(paths)
	if err != nil {
		return Info{}, fmt.Errorf("adding asset: %w", err)
	}
	if _, err := s.waitClient(ctx); err != nil {
		return Info{}, fmt.Errorf("adding asset: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.cfg.Dir, "staging"), "add-")
	if err != nil {
		return Info{}, fmt.Errorf("adding asset: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			removeTree(tmp)
		}
	}()
	for _, e := range entries {
		if err := copyTree(ctx, e.src, filepath.Join(tmp, e.dst), link); err != nil {
			return Info{}, fmt.Errorf("adding %s: %w", e.src, err)
		}
	}
	info, err := buildInfo(tmp, name, s.cfg.PieceLength)
	if err != nil {
		return Info{}, fmt.Errorf("adding asset: %w", err)
	}
	infoBytes, err := bencode.Marshal(info)
	if err != nil {
		return Info{}, fmt.Errorf("adding asset: encoding info: %w", err)
	}
	ih := metainfo.Hash(sha1.Sum(infoBytes))
	if err := s.commit(ih, tmp, info, infoBytes, stored{pinned: true}); err != nil {
		return Info{}, fmt.Errorf("adding asset: %w", err)
	}
	committed = true
	c := job.AssetCID(ih)
	announce(c)
	r, err := s.row(ih)
	if err != nil {
		return Info{}, fmt.Errorf("adding asset: %w", err)
	}
	s.log.Info("assetAdded", "cid", c, "size", r.Size, "files", r.Files)
	return r.Info, nil
}

type entry struct{ src, dst string }

// layout maps the paths to add onto the asset root and names the asset.
func layout(paths []string) ([]entry, string, error) {
	var out []entry
	seen := map[string]bool{}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, "", err // already "stat PATH: no such file or directory"
		}
		base := filepath.Base(filepath.Clean(p))
		if len(paths) == 1 && st.IsDir() {
			return []entry{{p, "."}}, base, nil
		}
		if err := checkComponent(base); err != nil {
			return nil, "", fmt.Errorf("%s: unusable name: %w", p, err)
		}
		if seen[base] {
			return nil, "", fmt.Errorf("two paths named %q", base)
		}
		seen[base] = true
		out = append(out, entry{p, base})
	}
	name := out[0].dst
	if len(out) > 1 {
		name = "asset"
	}
	return out, name, nil
}

// copyTree copies a regular file or a directory tree from src to dst, or
// with link hard-links its files where it can.
func copyTree(ctx context.Context, src, dst string, link bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		st, err := os.Stat(p) // follows symlinks
		if err != nil {
			return err
		}
		switch {
		case st.IsDir() && d.Type()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s: symbolic links to directories are not supported", p)
		case st.IsDir():
			return os.MkdirAll(target, 0o755)
		case st.Mode().IsRegular():
			if link && d.Type()&fs.ModeSymlink == 0 && os.Link(p, target) == nil {
				return nil
			}
			return fsutil.CopyFile(p, target)
		default:
			return fmt.Errorf("%s: not a regular file or directory", p)
		}
	})
}

// buildInfo makes the v1 info dictionary of the tree at root: files in
// lexical order of their slash paths, empty files after the others.
func buildInfo(root, name string, pieceLength int64) (*metainfo.Info, error) {
	info := &metainfo.Info{Name: name}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		info.Files = append(info.Files, metainfo.FileInfo{Length: st.Size(), Path: strings.Split(filepath.ToSlash(rel), "/")})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := finishInfo(info, pieceLength, func(fi metainfo.FileInfo) (io.ReadCloser, error) {
		return os.Open(filepath.Join(root, filepath.Join(fi.Path...)))
	}); err != nil {
		return nil, err
	}
	return info, nil
}

// finishInfo orders info's files, sets its piece length (pieceLength, or
// by size when 0) and hashes its pieces from the files open returns.
func finishInfo(info *metainfo.Info, pieceLength int64, open func(metainfo.FileInfo) (io.ReadCloser, error)) error {
	if len(info.Files) == 0 {
		return errors.New("no files to add")
	}
	// Empty files go last: anacrolix v1.61 file storage fails writes that
	// span a zero-length file (EINVAL, then it stops downloading).
	sort.Slice(info.Files, func(i, j int) bool {
		a, b := info.Files[i], info.Files[j]
		if (a.Length == 0) != (b.Length == 0) {
			return b.Length == 0
		}
		return strings.Join(a.Path, "/") < strings.Join(b.Path, "/")
	})
	info.PieceLength = pieceLength
	if pieceLength == 0 {
		info.PieceLength = pieceLengthFor(info.TotalLength())
	}
	if err := generatePieces(info, open); err != nil {
		return fmt.Errorf("hashing: %w", err)
	}
	return validateInfo(info)
}

// Identify returns the CID Add would give the files under root as an asset
// named name (Add of root's single file, or of root itself when name is
// its base name), without storing or sharing anything: a result can be
// named before it is shared.
func (s *Store) Identify(root, name string) (cid.Cid, error) {
	info, err := buildInfo(root, name, s.cfg.PieceLength)
	if err != nil {
		return cid.Undef, fmt.Errorf("identifying %s: %w", root, err)
	}
	ih, _, err := infoHash(info)
	if err != nil {
		return cid.Undef, fmt.Errorf("identifying %s: %w", root, err)
	}
	return job.AssetCID(ih), nil
}

// IdentifyFile is Identify of a folder holding one file, name, with
// contents data, computed from data: a publisher names every result it
// receives, and reading each back from disk was a dozen system calls.
func (s *Store) IdentifyFile(name string, data []byte) (cid.Cid, error) {
	if err := checkComponent(name); err != nil {
		return cid.Undef, fmt.Errorf("identifying %q: %w", name, err)
	}
	info := &metainfo.Info{Name: name, Files: []metainfo.FileInfo{{Length: int64(len(data)), Path: []string{name}}}}
	err := finishInfo(info, s.cfg.PieceLength, func(metainfo.FileInfo) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	if err != nil {
		return cid.Undef, fmt.Errorf("identifying %s: %w", name, err)
	}
	ih, _, err := infoHash(info)
	if err != nil {
		return cid.Undef, fmt.Errorf("identifying %s: %w", name, err)
	}
	return job.AssetCID(ih), nil
}
