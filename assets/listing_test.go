package assets

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/assets/assetstest"
)

// A listing fetched by another node has the same files; a new version that
// changes one small file fetches only that file; both stay readable.
func TestListingVersionFetchesOnlyChangedFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("two nodes transfer 5 MiB")
	}
	mem := assetstest.NewMem()
	a, b := startNode(t, mem, nil), startNode(t, mem, nil)
	src := filepath.Join(t.TempDir(), "textures")
	makeTree(t, src)
	if err := os.Chmod(filepath.Join(src, "tex/a/deep/f00.png"), 0o755); err != nil {
		t.Fatal(err)
	}

	v1, err := a.s.AddListing(ctxFor(t, 30*time.Second), []string{src})
	if err != nil {
		t.Fatal(err)
	}
	if !v1.Listing || !v1.Pinned || v1.Files != 42 || v1.Name != "textures" {
		t.Fatalf("added %+v", v1)
	}
	again, err := a.s.AddListing(ctxFor(t, 30*time.Second), []string{src})
	if err != nil || again.CID != v1.CID {
		t.Fatalf("adding the same folder again gave %v, %v; want %s", again.CID, err, v1.CID)
	}
	got, err := b.s.Get(ctxFor(t, 30*time.Second), v1.CID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Listing || got.Size != v1.Size {
		t.Fatalf("got %+v", got)
	}
	root1, err := b.s.Path(v1.CID)
	if err != nil {
		t.Fatal(err)
	}
	sameTree(t, src, root1)
	first := b.s.Stats().Downloaded
	if first < v1.Size || first > v1.Size+v1.Size/10 {
		t.Fatalf("b received %d bytes for a %d-byte listing", first, v1.Size)
	}
	out := t.TempDir()
	if err := b.s.Export(v1.CID, out); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(out, "tex/a/deep/f00.png")); err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Fatalf("exported executable file: %v, %v", st.Mode(), err)
	}

	// v2: one small file changed.
	old := t.TempDir()
	sameTreeCopy(t, src, old)
	changed := filepath.Join(src, "tex/b/deep/f06.png")
	randomFile(t, changed, 4321)
	v2, err := a.s.AddListing(ctxFor(t, 30*time.Second), []string{src})
	if err != nil {
		t.Fatal(err)
	}
	if v2.CID == v1.CID {
		t.Fatal("v2 has v1's CID")
	}
	if _, err := b.s.Get(ctxFor(t, 30*time.Second), v2.CID, nil); err != nil {
		t.Fatal(err)
	}
	if d := b.s.Stats().Downloaded - first; d != 4321 {
		t.Fatalf("fetching v2 received %d bytes, want 4321 (the changed file)", d)
	}
	root2, err := b.s.Path(v2.CID)
	if err != nil {
		t.Fatal(err)
	}
	sameTree(t, src, root2)
	sameTree(t, old, root1)
}

// sameTreeCopy copies the regular files of src to dst.
func sameTreeCopy(t *testing.T, src, dst string) {
	t.Helper()
	if err := copyTree(t.Context(), src, dst, false); err != nil {
		t.Fatal(err)
	}
}

// Listings from peers are checked before anything is fetched: paths that
// leave the root, a broken signature, extra keys, inconsistent fields.
func TestParseListingRejects(t *testing.T) {
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(edit func(*listingInfo)) []byte {
		li := listingInfo{Name: "x", PieceLength: 64 << 10, Files: []listingFile{{Length: 5, Path: []string{"a", "b.txt"}}},
			Ext: &listingExt{V: listingVersion, In: []int64{0}, Modes: "-"}}
		ph := newPieceHasher(li.PieceLength)
		ph.Write([]byte("hello"))
		li.Pieces = ph.Sum()
		c := contentOf([]byte("hello"))
		li.Ext.Content = c[:]
		li.Ext.Packs = make([]byte, 20)
		if edit != nil {
			edit(&li)
		}
		b, err := signListing(li, key)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := mk(nil)
	l, err := parseListing(good)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := peer.IDFromPrivateKey(key); l.Owner != id.String() || len(l.Entries) != 1 || l.Entries[0].Path != "a/b.txt" {
		t.Fatalf("parsed %+v", l)
	}
	tampered := bytes.Replace(good, []byte("b.txt"), []byte("c.txt"), 1)
	extra := bytes.Replace(good, []byte("4:name"), []byte("1:zi1e4:name"), 1)
	for name, tc := range map[string]struct {
		info []byte
		want string
	}{
		"dot-dot":       {mk(func(li *listingInfo) { li.Files[0].Path = []string{"..", "b.txt"} }), "escapes the root"},
		"absolute":      {mk(func(li *listingInfo) { li.Files[0].Path = []string{"/etc", "passwd"} }), "separator"},
		"tampered":      {tampered, "signature does not verify"},
		"extra key":     {extra, "canonical"},
		"short content": {mk(func(li *listingInfo) { li.Ext.Content = li.Ext.Content[:10] }), "per-file fields"},
		"bad pack":      {mk(func(li *listingInfo) { li.Ext.In[0] = 3 }), "names pack"},
		"bad mode":      {mk(func(li *listingInfo) { li.Ext.Modes = "r" }), "mode"},
	} {
		_, err := parseListing(tc.info)
		if err == nil || !errors.Is(err, ErrUnsafeInfo) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an unsafe-info error containing %q", name, err, tc.want)
		}
	}
}
