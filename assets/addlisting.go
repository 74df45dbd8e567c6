package assets

import (
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

	"github.com/anacrolix/torrent/metainfo"

	"github.com/renderswarm/renderswarm/internal/fsutil"
	"github.com/renderswarm/renderswarm/job"
)

// srcFile is one file to add.
type srcFile struct {
	src  string
	path []string // in the asset
	size int64
	exec bool
}

// AddListing adds files and directories as a listing (listing.go), pinned,
// signed with the node's key, seeds and announces it. The paths map onto
// the asset as in Add. Each file's content is stored once: a file already
// in the store (from any listing) is not copied again, and small files
// already in a stored pack refer to that pack when the new listing uses
// at least half of it, so a new version of a folder shares its unchanged
// files with the old one.
func (s *Store) AddListing(ctx context.Context, paths []string) (Info, error) {
	if len(paths) == 0 {
		return Info{}, errors.New("adding asset: no paths")
	}
	entries, name, err := layout(paths)
	if err != nil {
		return Info{}, fmt.Errorf("adding asset: %w", err)
	}
	files, err := walkFiles(ctx, entries)
	if err != nil {
		return Info{}, fmt.Errorf("adding asset: %w", err)
	}
	if _, err := s.waitClient(ctx); err != nil {
		return Info{}, fmt.Errorf("adding asset: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.cfg.Dir, "staging"), "listing-")
	if err != nil {
		return Info{}, fmt.Errorf("adding asset: %w", err)
	}
	defer removeTree(tmp)
	a := &adder{s: s, tmp: tmp, sizes: map[metainfo.Hash]int64{}}
	defer a.release()
	info, err := a.add(ctx, name, files)
	if err != nil {
		return Info{}, fmt.Errorf("adding asset: %w", err)
	}
	return info, nil
}

// adder is one AddListing in progress.
type adder struct {
	s        *Store
	tmp      string
	sizes    map[metainfo.Hash]int64 // small contents
	releases []func()                // holds on the units used
}

func (a *adder) release() {
	for _, r := range a.releases {
		r()
	}
}

// hold keeps a unit from collection until the listing is stored.
func (a *adder) hold(ih metainfo.Hash) {
	a.s.gcMu.Lock()
	a.s.held[ih]++
	a.s.gcMu.Unlock()
	a.releases = append(a.releases, func() { a.s.unhold(ih) })
}

func (a *adder) add(ctx context.Context, name string, files []srcFile) (Info, error) {
	var total int64
	for _, f := range files {
		total += f.size
	}
	pieceLength := a.s.cfg.PieceLength
	if pieceLength == 0 {
		pieceLength = pieceLengthFor(total)
	}
	tree := newPieceHasher(pieceLength)
	li := listingInfo{Name: name, PieceLength: pieceLength, Ext: &listingExt{V: listingVersion}}
	x := li.Ext
	locs := make([]contentRow, len(files))
	smallDir := filepath.Join(a.tmp, "small")
	if err := os.MkdirAll(smallDir, 0o755); err != nil {
		return Info{}, err
	}
	var small []int // files to pack
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return Info{}, err
		}
		var c metainfo.Hash
		var err error
		if f.size >= packBelow {
			c, err = a.addLarge(f, tree)
			locs[i] = contentRow{content: c, unit: c, path: unitName, size: f.size}
		} else {
			c, err = a.addSmall(f, tree, smallDir)
			locs[i].content, locs[i].size = c, f.size
			if f.size > 0 {
				small = append(small, i)
			}
		}
		if err != nil {
			return Info{}, err
		}
		li.Files = append(li.Files, listingFile{Length: f.size, Path: f.path})
		x.Content = append(x.Content, c[:]...)
		x.In = append(x.In, -1)
		x.Modes += map[bool]string{true: "x", false: "-"}[f.exec]
	}
	li.Pieces = tree.Sum()
	packs, err := a.pack(small, locs, smallDir)
	if err != nil {
		return Info{}, err
	}
	for k, p := range packs {
		x.Packs = append(x.Packs, p[:]...)
		for _, i := range small {
			if locs[i].unit == p {
				x.In[i] = int64(k)
			}
		}
	}
	return a.commitListing(li, files, locs)
}

// addLarge stores a file as its own torrent, unless that content is stored.
func (a *adder) addLarge(f srcFile, tree io.Writer) (metainfo.Hash, error) {
	dir, err := os.MkdirTemp(a.tmp, "unit-")
	if err != nil {
		return metainfo.Hash{}, err
	}
	out, err := os.Create(filepath.Join(dir, unitName))
	if err != nil {
		return metainfo.Hash{}, err
	}
	c, info, infoBytes, err := hashFile(f.src, tree, out)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return metainfo.Hash{}, err
	}
	a.hold(c)
	row := contentRow{content: c, unit: c, path: unitName, size: f.size}
	if err := a.s.commitUnit(c, dir, info, infoBytes, []contentRow{row}); err != nil {
		return metainfo.Hash{}, err
	}
	return c, nil
}

// addSmall reads a small file and keeps it for packing.
func (a *adder) addSmall(f srcFile, tree io.Writer, dir string) (metainfo.Hash, error) {
	data, err := os.ReadFile(f.src)
	if err != nil {
		return metainfo.Hash{}, err
	}
	if int64(len(data)) != f.size {
		return metainfo.Hash{}, fmt.Errorf("%s changed while being read", f.src)
	}
	tree.Write(data)
	c := contentOf(data)
	if f.size > 0 {
		if _, dup := a.sizes[c]; !dup {
			a.sizes[c] = f.size
			if err := os.WriteFile(filepath.Join(dir, c.HexString()), data, 0o644); err != nil {
				return metainfo.Hash{}, err
			}
		}
	}
	return c, nil
}

// pack places the small files: in stored packs the listing uses at least
// half of, else in new packs. It sets locs[i].unit and path, and returns
// the packs in the order the listing names them.
func (a *adder) pack(small []int, locs []contentRow, smallDir string) ([]metainfo.Hash, error) {
	var want []metainfo.Hash
	for c := range a.sizes {
		want = append(want, c)
	}
	found, err := a.s.locate(want)
	if err != nil {
		return nil, err
	}
	used := map[metainfo.Hash]int64{}
	for _, r := range found {
		if r.unit != r.content { // in a pack, not a file's own torrent
			used[r.unit] += r.size
		}
	}
	reuse := map[metainfo.Hash]bool{}
	for u, n := range used {
		if r, err := a.s.row(u); err == nil && r.kind == kindUnit && 2*n >= r.Size {
			reuse[u] = true
			a.hold(u)
		}
	}
	var fresh []metainfo.Hash
	for _, c := range want {
		if r, ok := found[c]; !ok || !reuse[r.unit] {
			fresh = append(fresh, c)
		}
	}
	sort.Slice(fresh, func(i, j int) bool { return fresh[i].HexString() < fresh[j].HexString() })
	placed := map[metainfo.Hash]contentRow{}
	for c, r := range found {
		if reuse[r.unit] {
			placed[c] = r
		}
	}
	var packs []metainfo.Hash
	for len(fresh) > 0 {
		n, bytes := 0, int64(0)
		for n < len(fresh) && n < maxPackFiles && (n == 0 || bytes+a.sizes[fresh[n]] <= maxPackBytes) {
			bytes += a.sizes[fresh[n]]
			n++
		}
		ih, rows, err := a.newPack(fresh[:n], smallDir)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			placed[r.content] = r
		}
		packs = append(packs, ih)
		fresh = fresh[n:]
	}
	seen := map[metainfo.Hash]bool{}
	var order []metainfo.Hash // packs in order of first use
	for _, i := range small {
		r := placed[locs[i].content]
		locs[i] = r
		if !seen[r.unit] {
			seen[r.unit] = true
			order = append(order, r.unit)
		}
	}
	return order, nil
}

// newPack stores contents (files in smallDir) as a new pack.
func (a *adder) newPack(contents []metainfo.Hash, smallDir string) (metainfo.Hash, []contentRow, error) {
	dir, err := os.MkdirTemp(a.tmp, "pack-")
	if err != nil {
		return metainfo.Hash{}, nil, err
	}
	for _, c := range contents {
		if err := os.Rename(filepath.Join(smallDir, c.HexString()), filepath.Join(dir, c.HexString())); err != nil {
			return metainfo.Hash{}, nil, err
		}
	}
	info, err := packInfo(dir, contents, a.sizes)
	if err != nil {
		return metainfo.Hash{}, nil, err
	}
	ih, infoBytes, err := infoHash(info)
	if err != nil {
		return metainfo.Hash{}, nil, err
	}
	rows, err := unitContents(ih, info, "")
	if err != nil {
		return metainfo.Hash{}, nil, err
	}
	a.hold(ih)
	if err := a.s.commitUnit(ih, dir, info, infoBytes, rows); err != nil {
		return metainfo.Hash{}, nil, err
	}
	return ih, rows, nil
}

// commitListing signs the listing, links its files from their units and
// stores it, pinned.
func (a *adder) commitListing(li listingInfo, files []srcFile, locs []contentRow) (Info, error) {
	infoBytes, err := signListing(li, a.s.key())
	if err != nil {
		return Info{}, err
	}
	l, err := parseListing(infoBytes)
	if err != nil {
		return Info{}, fmt.Errorf("listing made here does not validate: %w", err)
	}
	ih := metainfo.Hash(sha1.Sum(infoBytes))
	view := filepath.Join(a.tmp, "view")
	units, err := a.s.linkView(view, l, locs)
	if err != nil {
		return Info{}, err
	}
	if err := a.s.commit(ih, view, l.info, infoBytes, stored{pinned: true, kind: kindListing, refs: units}); err != nil {
		return Info{}, err
	}
	c := job.AssetCID(ih)
	a.s.announce(c)
	r, err := a.s.row(ih)
	if err != nil {
		return Info{}, err
	}
	a.s.log.Info("listingAdded", "cid", c, "size", r.Size, "files", r.Files, "packs", len(l.packs))
	return r.Info, nil
}

// linkView lays out a listing's files under dir as hard links to the
// units' files (copies where the file system has no links) and returns the
// units used.
func (s *Store) linkView(dir string, l *Listing, locs []contentRow) ([]metainfo.Hash, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	seen := map[metainfo.Hash]bool{}
	var units []metainfo.Hash
	for i, e := range l.Entries {
		dst := filepath.Join(dir, filepath.FromSlash(e.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if e.Size == 0 {
			if err := os.WriteFile(dst, nil, 0o444); err != nil {
				return nil, err
			}
			continue
		}
		r := locs[i]
		if err := os.Link(s.file(r), dst); err != nil {
			if err := fsutil.CopyFile(s.file(r), dst); err != nil {
				return nil, fmt.Errorf("linking %s: %w", e.Path, err)
			}
		}
		if !seen[r.unit] {
			seen[r.unit] = true
			units = append(units, r.unit)
		}
	}
	return units, nil
}

// commitUnit stores a unit made or fetched here and announces it.
func (s *Store) commitUnit(ih metainfo.Hash, dir string, info *metainfo.Info, infoBytes []byte, contents []contentRow) error {
	if err := s.commit(ih, dir, info, infoBytes, stored{kind: kindUnit, contents: contents}); err != nil {
		return err
	}
	s.announce(job.AssetCID(ih))
	return nil
}

// walkFiles lists the regular files under the entries, following symbolic
// links to files (as Add does), in the order of a listing: by slash path,
// empty files last.
func walkFiles(ctx context.Context, entries []entry) ([]srcFile, error) {
	var out []srcFile
	for _, e := range entries {
		err := filepath.WalkDir(e.src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			st, err := os.Stat(p)
			if err != nil {
				return err
			}
			switch {
			case st.IsDir() && d.Type()&fs.ModeSymlink != 0:
				return fmt.Errorf("%s: symbolic links to directories are not supported", p)
			case st.IsDir():
				return nil
			case !st.Mode().IsRegular():
				return fmt.Errorf("%s: not a regular file or directory", p)
			}
			rel, err := filepath.Rel(e.src, p)
			if err != nil {
				return err
			}
			path := filepath.ToSlash(filepath.Join(e.dst, rel))
			parts := strings.Split(path, "/")
			if err := checkPath(parts); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			out = append(out, srcFile{src: p, path: parts, size: st.Size(), exec: st.Mode().Perm()&0o111 != 0})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no files to add")
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.size == 0) != (b.size == 0) {
			return b.size == 0
		}
		return strings.Join(a.path, "/") < strings.Join(b.path, "/")
	})
	return out, nil
}
