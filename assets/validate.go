package assets

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/anacrolix/torrent/metainfo"
)

// Limits on info dictionaries from peers.
const (
	maxFiles       = 1 << 20
	maxPieceLength = 64 << 20
	// minPeerPiece: anacrolix v1.61 panicked here on a consistency check
	// with single-chunk (16 KiB) pieces; Add makes 64 KiB or more.
	minPeerPiece = 32 << 10
	maxComponent = 255
	maxPathDepth = 64
)

// ErrUnsafeInfo is wrapped by every rejection of an info dictionary whose
// contents could not be stored safely (path traversal, malformed layout).
var ErrUnsafeInfo = errors.New("unsafe torrent info")

func unsafeInfo(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsafeInfo, fmt.Sprintf(format, args...))
}

// validateInfo checks an info dictionary, typically from a peer, before
// anything of it is written: v1 only, consistent piece layout, and file paths
// that stay inside the asset root and do not clash.
func validateInfo(info *metainfo.Info) error {
	if info.HasV2() || info.MetaVersion != 0 {
		return unsafeInfo("BitTorrent v2 info dictionaries are not supported")
	}
	if info.PieceLength < minPeerPiece || info.PieceLength > maxPieceLength {
		return unsafeInfo("piece length %d out of range", info.PieceLength)
	}
	if len(info.Pieces)%sha1.Size != 0 {
		return unsafeInfo("pieces field length %d is not a multiple of 20", len(info.Pieces))
	}
	if info.Length != 0 && len(info.Files) != 0 {
		return unsafeInfo("both length and files are set")
	}
	if len(info.Files) > maxFiles {
		return unsafeInfo("%d files, more than %d", len(info.Files), maxFiles)
	}
	var total int64
	if len(info.Files) == 0 {
		if info.Length < 0 {
			return unsafeInfo("negative length")
		}
		if err := checkComponent(info.BestName()); err != nil {
			return unsafeInfo("name %q: %v", info.BestName(), err)
		}
		if err := checkAttrs(info.ExtendedFileAttrs); err != nil {
			return unsafeInfo("name %q: %v", info.BestName(), err)
		}
		total = info.Length
	}
	files := make(map[string]bool, len(info.Files)) // path -> isDir
	sawEmpty := false
	for i, f := range info.Files {
		if f.Length < 0 || total+f.Length < total {
			return unsafeInfo("file %d: bad length %d", i, f.Length)
		}
		// anacrolix v1.61 cannot write across an empty file; Add puts them last.
		if f.Length > 0 && sawEmpty {
			return unsafeInfo("file %d: data after an empty file (unsupported layout)", i)
		}
		sawEmpty = sawEmpty || f.Length == 0
		total += f.Length
		if err := checkAttrs(f.ExtendedFileAttrs); err != nil {
			return unsafeInfo("file %d: %v", i, err)
		}
		// path.utf-8, when present, is what BestPath uses; path must be
		// safe too unless absent.
		var paths [][]string
		if len(f.PathUtf8) > 0 {
			paths = append(paths, f.PathUtf8)
		}
		if len(f.Path) > 0 || len(f.PathUtf8) == 0 {
			paths = append(paths, f.Path)
		}
		for _, p := range paths {
			if err := checkPath(p); err != nil {
				return unsafeInfo("file %d path %q: %v", i, strings.Join(p, "/"), err)
			}
		}
		if err := addPath(files, f.BestPath()); err != nil {
			return unsafeInfo("file %d path %q: %v", i, strings.Join(f.BestPath(), "/"), err)
		}
	}
	want := (total + info.PieceLength - 1) / info.PieceLength
	if int64(info.NumPieces()) != want {
		return unsafeInfo("%d pieces for %d bytes of %d-byte pieces, want %d",
			info.NumPieces(), total, info.PieceLength, want)
	}
	return nil
}

func checkAttrs(a metainfo.ExtendedFileAttrs) error {
	if a.SymlinkPath != nil || strings.ContainsRune(a.Attr, 'l') {
		return errors.New("symlinks are not supported")
	}
	return nil
}

func checkPath(p []string) error {
	if len(p) == 0 {
		return errors.New("empty path")
	}
	if len(p) > maxPathDepth {
		return errors.New("too deep")
	}
	for _, c := range p {
		if err := checkComponent(c); err != nil {
			return err
		}
	}
	return nil
}

func checkComponent(c string) error {
	switch {
	case c == "":
		return errors.New("empty component")
	case c == "." || c == "..":
		return fmt.Errorf("component %q escapes the root", c)
	case strings.ContainsAny(c, "/\\\x00"):
		return errors.New("separator or NUL inside a component")
	case len(c) > maxComponent:
		return errors.New("component too long")
	case !utf8.ValidString(c):
		return errors.New("component is not UTF-8")
	}
	return nil
}

// addPath records p in files (path -> isDir) and fails on a duplicate or a
// file that is also a directory.
func addPath(files map[string]bool, p []string) error {
	for i := 1; i < len(p); i++ {
		dir := strings.Join(p[:i], "/")
		if isDir, ok := files[dir]; ok && !isDir {
			return fmt.Errorf("%q is both a file and a directory", dir)
		}
		files[dir] = true
	}
	full := strings.Join(p, "/")
	if _, ok := files[full]; ok {
		return errors.New("duplicate path")
	}
	files[full] = false
	return nil
}

// relPath is where a file of a validated info lives, relative to the asset
// root, in OS form. Single-file torrents keep their name as the file name.
func relPath(info *metainfo.Info, f *metainfo.FileInfo) string {
	if len(info.Files) == 0 {
		return info.BestName()
	}
	return filepath.Join(f.BestPath()...)
}

// verifyDir re-hashes every piece of info from the files under root,
// opening one file at a time (a tree may hold more files than the process
// may open).
func verifyDir(ctx context.Context, root string, info *metainfo.Info, progress func(done int64)) error {
	files := info.UpvertedFiles()
	for _, f := range files {
		st, err := os.Stat(filepath.Join(root, relPath(info, &f)))
		if err != nil {
			return fmt.Errorf("verifying: %w", err)
		}
		if st.Size() != f.Length {
			return fmt.Errorf("verifying %s: wrong size", relPath(info, &f))
		}
	}
	r := &treeReader{root: root, info: info, files: files}
	defer r.close()
	buf := make([]byte, info.PieceLength)
	var done int64
	for i := 0; i < info.NumPieces(); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := info.Piece(i)
		n, err := io.ReadFull(r, buf[:p.Length()])
		if err != nil {
			return fmt.Errorf("verifying piece %d: short data (%d bytes): %w", i, n, err)
		}
		sum := sha1.Sum(buf[:n])
		if !bytes.Equal(sum[:], info.Pieces[i*sha1.Size:(i+1)*sha1.Size]) {
			return fmt.Errorf("verifying piece %d: hash mismatch", i)
		}
		done += int64(n)
		if progress != nil {
			progress(done)
		}
	}
	return nil
}

// treeReader reads a torrent's files in order as one stream.
type treeReader struct {
	root  string
	info  *metainfo.Info
	files []metainfo.FileInfo
	cur   *os.File
	left  int64 // bytes of cur still to read
}

func (r *treeReader) Read(p []byte) (int, error) {
	for r.cur == nil || r.left == 0 {
		r.close()
		if len(r.files) == 0 {
			return 0, io.EOF
		}
		f := r.files[0]
		r.files = r.files[1:]
		if f.Length == 0 {
			continue
		}
		fh, err := os.Open(filepath.Join(r.root, relPath(r.info, &f)))
		if err != nil {
			return 0, err
		}
		r.cur, r.left = fh, f.Length
	}
	n, err := r.cur.Read(p[:min(int64(len(p)), r.left)])
	r.left -= int64(n)
	if err == io.EOF && r.left > 0 {
		err = io.ErrUnexpectedEOF
	} else if err == io.EOF {
		err = nil
	}
	return n, err
}

func (r *treeReader) close() {
	if r.cur != nil {
		r.cur.Close()
		r.cur = nil
	}
}
