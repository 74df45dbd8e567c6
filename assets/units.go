package assets

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
)

// Units are the torrents that carry a listing's file contents: a file of
// packBelow bytes or more is its own torrent (unitInfo, whose infohash is
// the file's content ID); smaller files travel in packs, multi-file
// torrents whose files are named by their content IDs in hex. Units are
// stored, seeded and provided like any asset; List does not show them.

// pieceHasher computes v1 piece hashes of a stream.
type pieceHasher struct {
	length int64
	h      hash.Hash
	n      int64 // bytes in the current piece
	pieces []byte
}

func newPieceHasher(pieceLength int64) *pieceHasher {
	return &pieceHasher{length: pieceLength, h: sha1.New()}
}

func (p *pieceHasher) Write(b []byte) (int, error) {
	total := len(b)
	for len(b) > 0 {
		k := min(int64(len(b)), p.length-p.n)
		p.h.Write(b[:k])
		p.n += k
		b = b[k:]
		if p.n == p.length {
			p.pieces = p.h.Sum(p.pieces)
			p.h.Reset()
			p.n = 0
		}
	}
	return total, nil
}

// Sum returns the piece hashes, the last piece possibly short.
func (p *pieceHasher) Sum() []byte {
	if p.n > 0 {
		p.pieces = p.h.Sum(p.pieces)
		p.h.Reset()
		p.n = 0
	}
	return p.pieces
}

// copyBufs holds the buffers generatePieces reads with.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// generatePieces sets info.Pieces from the files open returns, in
// info's order, as metainfo.Info.GeneratePieces does, without a goroutine,
// a pipe and a new 32 KiB buffer for every file and every piece: a
// publisher hashes each result it receives, and they were a fifth of the
// bytes it allocated.
func generatePieces(info *metainfo.Info, open func(metainfo.FileInfo) (io.ReadCloser, error)) error {
	if info.PieceLength <= 0 {
		return errors.New("piece length must be positive")
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	ph := newPieceHasher(info.PieceLength)
	for _, fi := range info.UpvertedFiles() {
		r, err := open(fi)
		if err != nil {
			return err
		}
		n, err := io.CopyBuffer(ph, io.LimitReader(r, fi.Length), *bp)
		r.Close()
		if err != nil {
			return fmt.Errorf("reading %s: %w", strings.Join(fi.BestPath(), "/"), err)
		}
		if n != fi.Length {
			return fmt.Errorf("%s: %d bytes, want %d", strings.Join(fi.BestPath(), "/"), n, fi.Length)
		}
	}
	info.Pieces = ph.Sum()
	return nil
}

// unitInfo is the canonical info dictionary of one file's own torrent.
func unitInfo(length int64, pieces []byte) *metainfo.Info {
	return &metainfo.Info{Name: unitName, Length: length, PieceLength: pieceLengthFor(length), Pieces: pieces}
}

// infoHash encodes info and returns its infohash and bytes.
func infoHash(info any) (metainfo.Hash, []byte, error) {
	b, err := bencode.Marshal(info)
	if err != nil {
		return metainfo.Hash{}, nil, fmt.Errorf("encoding info: %w", err)
	}
	return metainfo.Hash(sha1.Sum(b)), b, nil
}

// contentOf hashes data as its own canonical torrent and returns its
// content ID.
func contentOf(data []byte) metainfo.Hash {
	ph := newPieceHasher(pieceLengthFor(int64(len(data))))
	ph.Write(data)
	ih, _, err := infoHash(unitInfo(int64(len(data)), ph.Sum()))
	if err != nil {
		panic(err) // encoding a fixed struct cannot fail
	}
	return ih
}

// hashFile reads src once, feeding every writer, and returns the info
// dictionary of the file's own torrent: its infohash is the content ID.
func hashFile(src string, also ...io.Writer) (metainfo.Hash, *metainfo.Info, []byte, error) {
	f, err := os.Open(src)
	if err != nil {
		return metainfo.Hash{}, nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return metainfo.Hash{}, nil, nil, err
	}
	ph := newPieceHasher(pieceLengthFor(st.Size()))
	n, err := io.CopyBuffer(io.MultiWriter(append([]io.Writer{ph}, also...)...), f, make([]byte, 1<<20))
	if err != nil {
		return metainfo.Hash{}, nil, nil, fmt.Errorf("reading %s: %w", src, err)
	}
	if n != st.Size() {
		return metainfo.Hash{}, nil, nil, fmt.Errorf("%s changed while being read", src)
	}
	info := unitInfo(n, ph.Sum())
	ih, b, err := infoHash(info)
	return ih, info, b, err
}

// packInfo builds the info dictionary of a pack whose files (named by
// their content IDs in hex) are in dir.
func packInfo(dir string, contents []metainfo.Hash, sizes map[metainfo.Hash]int64) (*metainfo.Info, error) {
	info := &metainfo.Info{Name: packName}
	var total int64
	for _, c := range contents {
		info.Files = append(info.Files, metainfo.FileInfo{Length: sizes[c], Path: []string{c.HexString()}})
		total += sizes[c]
	}
	info.PieceLength = pieceLengthFor(total)
	err := generatePieces(info, func(fi metainfo.FileInfo) (io.ReadCloser, error) {
		return os.Open(filepath.Join(dir, fi.Path[0]))
	})
	if err != nil {
		return nil, fmt.Errorf("hashing pack: %w", err)
	}
	return info, nil
}

// unitContents lists the contents a unit holds: a file torrent holds
// itself; a pack holds its files, named by content ID. It checks that a
// pack's files are what their names say (the pack's pieces prove only
// that its bytes are the packer's).
func unitContents(ih metainfo.Hash, info *metainfo.Info, root string) ([]contentRow, error) {
	if len(info.Files) == 0 {
		return []contentRow{{content: ih, unit: ih, path: info.BestName(), size: info.Length}}, nil
	}
	out := make([]contentRow, 0, len(info.Files))
	for _, f := range info.Files {
		p := f.BestPath()
		var c metainfo.Hash
		if len(p) != 1 || len(p[0]) != 2*len(c) {
			return nil, unsafeInfo("pack file %q is not named by a content ID", filepath.Join(p...))
		}
		if _, err := hex.Decode(c[:], []byte(p[0])); err != nil {
			return nil, unsafeInfo("pack file %q is not named by a content ID", p[0])
		}
		if root != "" {
			data, err := os.ReadFile(filepath.Join(root, p[0]))
			if err != nil {
				return nil, err
			}
			if contentOf(data) != c {
				return nil, unsafeInfo("pack file %s does not hold that content", p[0])
			}
		}
		out = append(out, contentRow{content: c, unit: ih, path: p[0], size: f.Length})
	}
	return out, nil
}

// isPack tells a pack's info from a file torrent's.
func isPack(info *metainfo.Info) bool { return len(info.Files) > 0 }

// checkUnit checks a unit fetched for a listing against what the listing
// expects of it, before its data is downloaded.
func checkUnit(info *metainfo.Info, pack bool) error {
	if isPack(info) != pack {
		return unsafeInfo("unit is not the kind of torrent the listing names")
	}
	if pack && (len(info.Files) > maxPackFiles || info.TotalLength() > maxPackBytes) {
		return unsafeInfo("pack of %d files, %d bytes: too large", len(info.Files), info.TotalLength())
	}
	if pack {
		_, err := unitContents(metainfo.Hash{}, info, "")
		return err
	}
	return nil
}
