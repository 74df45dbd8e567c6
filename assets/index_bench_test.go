package assets

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/renderswarm/renderswarm/internal/db"
)

// BenchmarkInsertRow measures recording one asset in an index that already
// holds n: a publisher adds every accepted result (100,000 for a
// 100,000-frame job), a volunteer every scene and result it keeps. The
// cost must not grow with n (go test -run '^$' -bench InsertRow ./assets).
func BenchmarkInsertRow(b *testing.B) {
	info := &metainfo.Info{Name: "frame_0001.png", Length: 1 << 10, PieceLength: 1 << 18, Pieces: make([]byte, 20)}
	for _, n := range []int{1_000, 50_000} {
		b.Run(fmt.Sprintf("assets=%d", n), func(b *testing.B) {
			d, err := db.Open(filepath.Join(b.TempDir(), "node.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			if err := db.Migrate(context.Background(), d, "assets", migrations, "migrations"); err != nil {
				b.Fatal(err)
			}
			s := &Store{cfg: Config{DB: d}}
			ih := func(i int) metainfo.Hash {
				var k [8]byte
				binary.BigEndian.PutUint64(k[:], uint64(i))
				return sha1.Sum(k[:])
			}
			tx, err := d.Begin()
			if err != nil {
				b.Fatal(err)
			}
			for i := range n {
				h := ih(i)
				if _, err := tx.Exec(`INSERT INTO assets (`+rowCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
					h[:], info.Name, info.Length, 1, i%2, i, i, []byte("d"), kindPlain); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				if err := s.insertRow(ih(n+i), info, []byte("d"), true, kindPlain); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
