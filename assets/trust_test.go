package assets

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"

	"github.com/renderswarm/renderswarm/assets/assetstest"
	"github.com/renderswarm/renderswarm/job"
)

// nullStorage claims every piece and serves zeros: a seeder as far as
// anacrolix can tell, so it serves the info dictionary (BEP 9).
type nullStorage struct{}

func (nullStorage) OpenTorrent(_ context.Context, _ *metainfo.Info, _ metainfo.Hash) (storage.TorrentImpl, error) {
	return storage.TorrentImpl{
		Piece: func(metainfo.Piece) storage.PieceImpl { return nullPiece{} },
		Close: func() error { return nil },
	}, nil
}

type nullPiece struct{}

func (nullPiece) ReadAt(b []byte, _ int64) (int, error)  { clear(b); return len(b), nil }
func (nullPiece) WriteAt(b []byte, _ int64) (int, error) { return len(b), nil }
func (nullPiece) MarkComplete() error                    { return nil }
func (nullPiece) MarkNotComplete() error                 { return nil }
func (nullPiece) Completion() storage.Completion         { return storage.Completion{Ok: true, Complete: true} }

func TestGetRejectsPathTraversal(t *testing.T) {
	mem := assetstest.NewMem()
	a, b := startNode(t, mem, nil), startNode(t, mem, nil)
	cl, err := a.s.waitClient(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path []string
	}{
		{"dotdot", []string{"..", "x"}},
		{"absolute", []string{"/etc/x"}},
		{"emptyComponent", []string{"", "etc", "x"}},
		{"deepDotdot", []string{"a", "..", "..", "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := metainfo.Info{Name: "evil", PieceLength: 64 << 10, Files: []metainfo.FileInfo{{Length: 5, Path: tc.path}}}
			sum := sha1.Sum([]byte("owned"))
			info.Pieces = sum[:]
			infoBytes, err := bencode.Marshal(info)
			if err != nil {
				t.Fatal(err)
			}
			ih := metainfo.Hash(sha1.Sum(infoBytes))
			tor, _ := cl.AddTorrentOpt(torrent.AddTorrentOpts{InfoHash: ih, InfoBytes: infoBytes, Storage: nullStorage{}})
			defer tor.Drop()
			c := job.AssetCID(ih)
			if err := mem.For(a.h).Provide(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			_, err = b.s.Get(ctxFor(t, 3*time.Second), c, nil)
			if !errors.Is(err, ErrUnsafeInfo) {
				t.Fatalf("Get = %v, want ErrUnsafeInfo", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			t.Log(err)
			for _, d := range []string{"data", "staging"} {
				if es := dirEntries(t, filepath.Join(b.cfg.Dir, d)); len(es) != 0 {
					t.Fatalf("%s not empty: %v", d, es)
				}
			}
			for _, p := range []string{filepath.Join(b.cfg.Dir, "x"), filepath.Join(b.cfg.Dir, "..", "x"), filepath.Join(b.cfg.Dir, "staging", "x")} {
				if _, err := os.Lstat(p); err == nil {
					t.Fatalf("%s was written", p)
				}
			}
			if list, _ := b.s.List(); len(list) != 0 {
				t.Fatalf("List = %v", list)
			}
		})
	}
}

func TestCorruptSeederIsOutvotedByHashes(t *testing.T) {
	if testing.Short() {
		t.Skip("three nodes, rate-limited transfer")
	}
	mem := assetstest.NewMem()
	a, b, c := startNode(t, mem, nil), startNode(t, mem, nil), startNode(t, mem, nil)
	src := filepath.Join(t.TempDir(), "plate.exr")
	randomFile(t, src, 2<<20)
	added, err := a.s.Add(ctxFor(t, 10*time.Second), []string{src})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.s.Get(ctxFor(t, 20*time.Second), added.CID, nil); err != nil {
		t.Fatal(err)
	}
	// B's copy goes bad on disk: the first 512 KiB are overwritten.
	root, _ := b.s.Path(added.CID)
	bad := filepath.Join(root, "plate.exr")
	if err := os.Chmod(bad, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(bad, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xAA}, 512<<10), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// A is slow, so C takes what it can from B and must refuse the bad part.
	a.s.SetUploadRate(1 << 20)

	if _, err := c.s.Get(ctxFor(t, 30*time.Second), added.CID, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := c.s.Path(added.CID)
	sameTree(t, filepath.Dir(src), got)
	if up := b.s.seeding(mustIH(t, added)).Stats().BytesWrittenData; up.Int64() == 0 {
		t.Fatal("B uploaded nothing to C; the test proved nothing")
	}
}

func mustIH(t *testing.T, in Info) metainfo.Hash {
	ih, err := job.InfoHash(in.CID)
	if err != nil {
		t.Fatal(err)
	}
	return ih
}
