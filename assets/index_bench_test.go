package assets

import (
	"context"
	"crypto/sha1"
	"database/sql"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/renderswarm/renderswarm/internal/db"
	"github.com/renderswarm/renderswarm/job"
)

// BenchmarkInsertRow measures recording one asset in an index that already
// holds n: a publisher adds every accepted result (100,000 for a
// 100,000-frame job), a volunteer every scene and result it keeps. The
// cost must not grow with n (go test -run '^$' -bench InsertRow ./assets).
func BenchmarkInsertRow(b *testing.B) {
	info := &metainfo.Info{Name: "frame_0001.png", Length: 1 << 10, PieceLength: 1 << 18, Pieces: make([]byte, 20)}
	for _, n := range []int{1_000, 50_000} {
		b.Run(fmt.Sprintf("assets=%d", n), func(b *testing.B) {
			d := openIndex(b)
			s := &Store{cfg: Config{DB: d}}
			fillIndex(b, d, n, func(int) []byte { return []byte("d") })
			b.ResetTimer()
			for i := range b.N {
				if err := s.insertRow(benchHash(n+i), info, []byte("d"), true, kindPlain); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPathLookup measures Path of a stored asset in an index of
// 50,000: a publisher asks it for the scene of every crop it renders, a
// volunteer for the scene of every task.
func BenchmarkPathLookup(b *testing.B) {
	d := openIndex(b)
	s := &Store{cfg: Config{DB: d, Dir: b.TempDir()}}
	const scene = 25_000
	fillIndex(b, d, 50_000, func(i int) []byte {
		if i == scene {
			return make([]byte, 20<<10) // the info of a scene of a thousand pieces
		}
		return []byte("d")
	})
	c := job.AssetCID(benchHash(scene))
	for b.Loop() {
		if _, err := s.Path(c); err != nil {
			b.Fatal(err)
		}
	}
}

// openIndex opens an empty asset index, closed when b ends.
func openIndex(b *testing.B) *sql.DB {
	d, err := db.Open(filepath.Join(b.TempDir(), "node.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	if err := db.Migrate(context.Background(), d, "assets", migrations, "migrations"); err != nil {
		b.Fatal(err)
	}
	return d
}

// benchHash is the infohash of fillIndex's asset i.
func benchHash(i int) metainfo.Hash {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], uint64(i))
	return sha1.Sum(k[:])
}

// fillIndex records n assets (benchHash(0) to benchHash(n-1), half of them
// pinned, with the info infoOf gives) in one transaction.
func fillIndex(b *testing.B, d *sql.DB, n int, infoOf func(i int) []byte) {
	tx, err := d.Begin()
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		h := benchHash(i)
		if _, err := tx.Exec(`INSERT INTO assets (`+rowCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			h[:], "a", 1, 1, i%2, i, i, infoOf(i), kindPlain); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}
