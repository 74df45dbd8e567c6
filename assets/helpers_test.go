package assets

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/renderswarm/renderswarm/assets/assetstest"
	"github.com/renderswarm/renderswarm/internal/db"
)

// testNode is one store on its own loopback host, running until stopped.
type testNode struct {
	s      *Store
	h      host.Host
	cfg    Config
	cancel context.CancelFunc
	done   chan error
}

func newConfig(t *testing.T, mem *assetstest.Mem, h host.Host) Config {
	t.Helper()
	dir := t.TempDir()
	d, err := db.Open(filepath.Join(dir, "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return Config{Dir: filepath.Join(dir, "assets"), DB: d, Host: h, Providers: mem.For(h)}
}

func startNode(t *testing.T, mem *assetstest.Mem, edit func(*Config)) *testNode {
	t.Helper()
	h := assetstest.Host(t)
	cfg := newConfig(t, mem, h)
	if edit != nil {
		edit(&cfg)
	}
	return runNode(t, cfg)
}

func runNode(t *testing.T, cfg Config) *testNode {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return runStore(t, s, cfg)
}

// runStore runs s (made by New(cfg)) until the test ends.
func runStore(t *testing.T, s *Store, cfg Config) *testNode {
	ctx, cancel := context.WithCancel(context.Background())
	n := &testNode{s: s, h: cfg.Host, cfg: cfg, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- s.Run(ctx) }()
	t.Cleanup(n.stop)
	return n
}

// stop ends Run and waits for it (idempotent).
func (n *testNode) stop() {
	n.cancel()
	select {
	case <-n.done:
	case <-time.After(20 * time.Second):
		panic("store Run did not return within 20s")
	}
	n.done <- nil
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func randomFile(t *testing.T, path string, size int) {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// addRandom adds a file of size random bytes named name to s.
func addRandom(t *testing.T, s *Store, name string, size int) Info {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	randomFile(t, p, size)
	info, err := s.Add(ctxFor(t, 10*time.Second), []string{p})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// makeTree writes nested dirs, a multi-MiB file and many small files.
func makeTree(t *testing.T, root string) {
	t.Helper()
	randomFile(t, filepath.Join(root, "big.bin"), 5<<20+12345)
	for i := range 40 {
		randomFile(t, filepath.Join(root, "tex", string(rune('a'+i%5)), "deep", fmt.Sprintf("f%02d.png", i)), 1+i*997)
	}
	if err := os.WriteFile(filepath.Join(root, "empty.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sameTree fails unless every regular file under want exists under got with
// the same bytes, and got has no other files.
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	files := func(root string) map[string][]byte {
		out := map[string][]byte{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			b, err := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			out[rel] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	w, g := files(want), files(got)
	if len(w) != len(g) {
		t.Fatalf("%s has %d files, want %d", got, len(g), len(w))
	}
	for p, b := range w {
		if !bytes.Equal(g[p], b) {
			t.Fatalf("%s differs", p)
		}
	}
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// eventually waits for cond with a deadline, polling.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}
