package assets

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/assets/assetstest"
	"github.com/renderswarm/renderswarm/job"
)

func TestAddGetThenSeedOnAfterOriginLeaves(t *testing.T) {
	if testing.Short() {
		t.Skip("three nodes transfer 5 MiB")
	}
	mem := assetstest.NewMem()
	a, b, c := startNode(t, mem, nil), startNode(t, mem, nil), startNode(t, mem, nil)
	src := filepath.Join(t.TempDir(), "scene")
	makeTree(t, src)

	added, err := a.s.Add(ctxFor(t, 30*time.Second), []string{src})
	if err != nil {
		t.Fatal(err)
	}
	if !added.Pinned || !added.Complete || added.Name != "scene" || added.Files != 42 {
		t.Fatalf("added %+v", added)
	}
	var phases []string
	got, err := b.s.Get(ctxFor(t, 30*time.Second), added.CID, func(p Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Pinned || got.Size != added.Size || phases[len(phases)-1] != "done" {
		t.Fatalf("got %+v, phases %v", got, phases)
	}
	root, err := b.s.Path(added.CID)
	if err != nil {
		t.Fatal(err)
	}
	sameTree(t, src, root)
	if st, err := os.Stat(filepath.Join(root, "big.bin")); err != nil || st.Mode().Perm()&0o222 != 0 {
		t.Fatalf("stored file mode = %v, %v; want read-only", st.Mode(), err)
	}

	a.stop()
	mem.Forget(a.h)
	a.h.Close()
	if _, err := c.s.Get(ctxFor(t, 30*time.Second), added.CID, nil); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := c.s.Export(added.CID, out); err != nil {
		t.Fatal(err)
	}
	sameTree(t, src, out)
}

func TestRestartedStoreSeedsAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a node")
	}
	mem := assetstest.NewMem()
	a := startNode(t, mem, nil)
	src := filepath.Join(t.TempDir(), "f.bin")
	randomFile(t, src, 1<<20)
	added, err := a.s.Add(ctxFor(t, 10*time.Second), []string{src})
	if err != nil {
		t.Fatal(err)
	}
	a.stop()

	a2 := runNode(t, a.cfg)
	list, err := a2.s.List()
	if err != nil || len(list) != 1 || list[0].CID != added.CID || !list[0].Pinned {
		t.Fatalf("List after restart = %v, %v", list, err)
	}
	b := startNode(t, mem, nil)
	if _, err := b.s.Get(ctxFor(t, 20*time.Second), added.CID, nil); err != nil {
		t.Fatal(err)
	}
	root, _ := b.s.Path(added.CID)
	sameTree(t, filepath.Dir(src), root)
}

func TestGetUnknownCIDGivesUpWhenContextEnds(t *testing.T) {
	mem := assetstest.NewMem()
	a := startNode(t, mem, nil)
	c := job.AssetCID([20]byte{1, 2, 3})
	_, err := a.s.Get(ctxFor(t, 700*time.Millisecond), c, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no provider found") {
		t.Fatalf("err = %v, want a deadline saying no provider was found", err)
	}
	if list, _ := a.s.List(); len(list) != 0 {
		t.Fatalf("List = %v, want empty", list)
	}
	if es := dirEntries(t, filepath.Join(a.cfg.Dir, "staging")); len(es) != 0 {
		t.Fatalf("staging left behind: %v", es)
	}
}

func TestAddMissingPathCreatesNothing(t *testing.T) {
	mem := assetstest.NewMem()
	a := startNode(t, mem, nil)
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := a.s.Add(ctxFor(t, 5*time.Second), []string{missing})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("err = %v, want not-exist naming %s", err, missing)
	}
	for _, d := range []string{"data", "staging"} {
		if es := dirEntries(t, filepath.Join(a.cfg.Dir, d)); len(es) != 0 {
			t.Fatalf("%s not empty: %v", d, es)
		}
	}
}

func TestAddTwiceIsOneAsset(t *testing.T) {
	mem := assetstest.NewMem()
	a := startNode(t, mem, nil)
	dir := t.TempDir()
	randomFile(t, filepath.Join(dir, "x", "a.txt"), 100)
	randomFile(t, filepath.Join(dir, "y.txt"), 100)
	paths := []string{filepath.Join(dir, "x"), filepath.Join(dir, "y.txt")}
	i1, err := a.s.Add(ctxFor(t, 5*time.Second), paths)
	if err != nil {
		t.Fatal(err)
	}
	i2, err := a.s.Add(ctxFor(t, 5*time.Second), paths)
	if err != nil || i2.CID != i1.CID {
		t.Fatalf("second Add = %v, %v; want %v", i2.CID, err, i1.CID)
	}
	root, _ := a.s.Path(i1.CID)
	for _, p := range []string{"x/a.txt", "y.txt"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	if list, _ := a.s.List(); len(list) != 1 {
		t.Fatalf("List = %v", list)
	}
}

func TestStalledDownloadIsRestartedAndCompletes(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a stall")
	}
	mem := assetstest.NewMem()
	a := startNode(t, mem, nil)
	h := assetstest.Host(t)
	cfg := newConfig(t, mem, h)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.stallTimeout = 500 * time.Millisecond
	b := runStore(t, s, cfg)

	src := filepath.Join(t.TempDir(), "f.bin")
	randomFile(t, src, 2<<20)
	in, err := a.s.Add(ctxFor(t, 10*time.Second), []string{src})
	if err != nil {
		t.Fatal(err)
	}
	a.s.SetUploadRate(1) // the burst gets through, then nothing: a stall
	done := make(chan error, 1)
	go func() {
		_, err := b.s.Get(ctxFor(t, 30*time.Second), in.CID, nil)
		done <- err
	}()
	eventually(t, 20*time.Second, "the stalled download to be restarted", func() bool { return s.restarts.Load() > 0 })
	a.s.SetUploadRate(0)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	root, _ := b.s.Path(in.CID)
	sameTree(t, filepath.Dir(src), root)
}
