//go:build linux

// Command listings measures what file-level content addressing costs
// against one plain torrent per asset: two stores on loopback, the same
// folder added both ways on one and fetched both ways by the other.
//
//	go run ./bench/listings [-small 10000] [-big 1GiB]
//
// For each data set it prints the time to add, the size of the info
// dictionary a fetcher downloads first (the .torrent), the torrents
// seeded, the disk used (hard links counted once) and the time and bytes
// to fetch.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/assets"
	"github.com/renderswarm/renderswarm/assets/assetstest"
	"github.com/renderswarm/renderswarm/internal/db"
)

func main() {
	small := flag.Int("small", 10000, "files in the folder of small files (1-8 KiB each)")
	bigMiB := flag.Int("big", 1024, "MiB of the one big file")
	flag.Parse()
	tmp, err := os.MkdirTemp("", "listings-bench-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	sets := []struct {
		name string
		make func(dir string) error
	}{
		{fmt.Sprintf("%d small files", *small), func(dir string) error { return smallFiles(dir, *small) }},
		{fmt.Sprintf("one %d MiB file", *bigMiB), func(dir string) error { return randomFile(filepath.Join(dir, "big.bin"), int64(*bigMiB)<<20) }},
	}
	for i, set := range sets {
		src := filepath.Join(tmp, fmt.Sprintf("set%d", i), "data")
		if err := set.make(src); err != nil {
			fail(err)
		}
		if err := measure(filepath.Join(tmp, fmt.Sprintf("set%d", i)), set.name, src); err != nil {
			fail(err)
		}
		os.RemoveAll(filepath.Join(tmp, fmt.Sprintf("set%d", i)))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "listings:", err)
	os.Exit(1)
}

type store struct {
	s      *assets.Store
	dir    string
	cancel context.CancelFunc
	done   chan error
}

func (st *store) stop() { st.cancel(); <-st.done }

func newStore(dir string, mem *assetstest.Mem) (*store, error) {
	h, err := assetstest.NewHost()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	d, err := db.Open(filepath.Join(dir, "node.db"))
	if err != nil {
		return nil, err
	}
	s, err := assets.New(assets.Config{Dir: filepath.Join(dir, "assets"), DB: d, Host: h, Providers: mem.For(h),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	st := &store{s: s, dir: filepath.Join(dir, "assets"), cancel: cancel, done: make(chan error, 1)}
	go func() { st.done <- s.Run(ctx) }()
	return st, nil
}

// measure adds src both ways on a fresh pair of stores per way.
func measure(dir, name, src string) error {
	fmt.Printf("== %s\n", name)
	fmt.Printf("%-8s %10s %12s %8s %12s %10s %12s\n", "", "add", "torrent", "seeded", "disk", "fetch", "received")
	for _, listing := range []bool{false, true} {
		way := "plain"
		if listing {
			way = "listing"
		}
		mem := assetstest.NewMem()
		a, err := newStore(filepath.Join(dir, way, "a"), mem)
		if err != nil {
			return err
		}
		b, err := newStore(filepath.Join(dir, way, "b"), mem)
		if err != nil {
			a.stop()
			return err
		}
		err = func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
			defer cancel()
			add := a.s.Add
			if listing {
				add = a.s.AddListing
			}
			start := time.Now()
			in, err := add(ctx, []string{src})
			if err != nil {
				return err
			}
			addTook := time.Since(start)
			tf, err := a.s.Torrent(in.CID)
			if err != nil {
				return err
			}
			disk, err := diskUse(a.dir)
			if err != nil {
				return err
			}
			start = time.Now()
			if _, err := b.s.Get(ctx, in.CID, nil); err != nil {
				return err
			}
			getTook := time.Since(start)
			fmt.Printf("%-8s %9.2fs %12s %8d %12s %9.2fs %12s\n", way, addTook.Seconds(), bytes(int64(len(tf))),
				a.s.Stats().Seeding, bytes(disk), getTook.Seconds(), bytes(b.s.Stats().Downloaded))
			return verify(b.s, in.CID, src)
		}()
		a.stop()
		b.stop()
		if err != nil {
			return err
		}
	}
	return nil
}

// verify checks the fetched asset's size against the source.
func verify(s *assets.Store, c cid.Cid, src string) error {
	root, err := s.Path(c)
	if err != nil {
		return err
	}
	want, err := diskUse(src)
	if err != nil {
		return err
	}
	got, err := diskUse(root)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("fetched %d bytes of files, want %d", got, want)
	}
	return nil
}

// diskUse sums the sizes of the regular files under root, each inode once.
func diskUse(root string) (int64, error) {
	seen := map[uint64]bool{}
	var n int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			if seen[sys.Ino] {
				return nil
			}
			seen[sys.Ino] = true
		}
		n += st.Size()
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	return n, err
}

func smallFiles(dir string, n int) error {
	buf := make([]byte, 8<<10)
	for i := range n {
		rand.Read(buf)
		p := filepath.Join(dir, fmt.Sprintf("d%02d/e%02d/f%05d.bin", i%37, i%11, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, buf[:1<<10+i*997%(7<<10)], 0o644); err != nil {
			return err
		}
	}
	return nil
}

func randomFile(path string, size int64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 4<<20)
	for size > 0 {
		k := min(size, int64(len(buf)))
		rand.Read(buf[:k])
		if _, err := f.Write(buf[:k]); err != nil {
			f.Close()
			return err
		}
		size -= k
	}
	return f.Close()
}

func bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
