package assets

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/renderswarm/renderswarm/assets/assetstest"
)

// generatePieces hashes exactly as metainfo's GeneratePieces does: files
// ending inside a piece, pieces spanning files, empty files, a short last
// piece; and a file shorter than its recorded length is an error, not a
// torrent of other bytes.
func TestGeneratePiecesMatchesAnacrolix(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		piece int64
		sizes []int
	}{
		{16 << 10, []int{600}},
		{16 << 10, []int{16 << 10}},
		{16 << 10, []int{40 << 10, 3, 0, 70<<10 + 5}},
		{32 << 10, []int{100 << 10, 100 << 10, 1}},
		{256 << 10, []int{0, 0, 700 << 10}},
	} {
		data := map[string][]byte{}
		info := &metainfo.Info{Name: "x", PieceLength: tc.piece}
		for i, n := range tc.sizes {
			b := make([]byte, n)
			for k := range b {
				b[k] = byte(r.Uint32())
			}
			name := string(rune('a' + i))
			data[name] = b
			info.Files = append(info.Files, metainfo.FileInfo{Length: int64(n), Path: []string{name}})
		}
		open := func(fi metainfo.FileInfo) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data[fi.Path[0]])), nil
		}
		want := *info
		if err := want.GeneratePieces(open); err != nil {
			t.Fatal(err)
		}
		if err := generatePieces(info, open); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(info.Pieces, want.Pieces) {
			t.Errorf("piece length %d, files %v: %d piece bytes differ from anacrolix's %d", tc.piece, tc.sizes, len(info.Pieces), len(want.Pieces))
		}
	}
	short := &metainfo.Info{Name: "x", PieceLength: 16 << 10, Files: []metainfo.FileInfo{{Length: 100, Path: []string{"a"}}}}
	err := generatePieces(short, func(metainfo.FileInfo) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(make([]byte, 99))), nil
	})
	if err == nil {
		t.Error("a file one byte short of its length was hashed")
	}
}

// BenchmarkIdentifySmallResult measures naming a 600-byte result from its
// folder, as the publisher names a result with extras (go test -run '^$'
// -bench IdentifySmall ./assets).
func BenchmarkIdentifySmallResult(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "frame_0001_tile00.png"), make([]byte, 600), 0o644); err != nil {
		b.Fatal(err)
	}
	s := &Store{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Identify(dir, "frame_0001_tile00.png"); err != nil {
			b.Fatal(err)
		}
	}
}

// A result named from its bytes gets the CID it is later stored as, and
// the one Identify gives its folder; a name that is not one file's name is
// refused.
func TestIdentifyFileIsTheStoredCID(t *testing.T) {
	n := startNode(t, assetstest.NewMem(), nil)
	dir := t.TempDir()
	for _, size := range []int{1, 600, 300 << 10} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i * 31)
		}
		name := "frame_0001_tile00.png"
		path := filepath.Join(dir, fmt.Sprint(size), name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := n.s.IdentifyFile(name, data)
		if err != nil {
			t.Fatal(err)
		}
		want, err := n.s.Identify(filepath.Dir(path), name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := n.s.AddLater(ctxFor(t, 10*time.Second), []string{path})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equals(want) || !got.Equals(info.CID) {
			t.Errorf("%d bytes: IdentifyFile %s, Identify %s, stored as %s", size, got, want, info.CID)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", `a\b`} {
		if _, err := n.s.IdentifyFile(bad, []byte("x")); err == nil {
			t.Errorf("IdentifyFile(%q) named a result", bad)
		}
	}
}
