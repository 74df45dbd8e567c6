package assets

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/assets/assetstest"
	"github.com/renderswarm/renderswarm/job"
)

// Another node finds and fetches an asset added with AddLater once the
// provider loop has announced it. AddLater links the file into the store:
// removing the added file (as a publisher removes a shared result) leaves
// the asset whole.
func TestAddLaterIsFoundOnceAnnounced(t *testing.T) {
	mem := assetstest.NewMem()
	a, b := startNode(t, mem, nil), startNode(t, mem, nil)
	src := filepath.Join(t.TempDir(), "frame_0001.png")
	randomFile(t, src, 5000)
	added, err := a.s.AddLater(ctxFor(t, 30*time.Second), []string{src})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(src); err != nil {
		t.Fatal(err)
	}
	got, err := b.s.Get(ctxFor(t, 30*time.Second), added.CID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Size != added.Size {
		t.Fatalf("fetched %d bytes, want %d", got.Size, added.Size)
	}
}

// While assets are being added the later announcements go out one at a
// time; once none was added for laterQuiet, laterBurst at a time.
func TestLaterAnnouncementsAreRateBound(t *testing.T) {
	s := &Store{log: slog.New(slog.DiscardHandler)}
	mk := func(i int) cid.Cid { return job.AssetCID([20]byte{byte(i), byte(i >> 8), byte(i >> 16)}) }
	for i := range 25 {
		s.announceLater(mk(i))
	}
	if got := len(s.nextLater(laterBurst)); got != 1 {
		t.Fatalf("%d announcements while adding, want 1", got)
	}
	s.laterLast = time.Now().Add(-laterQuiet)
	if got := len(s.nextLater(laterBurst)); got != laterBurst {
		t.Fatalf("%d announcements when quiet, want %d", got, laterBurst)
	}
	for i := range maxLater {
		s.announceLater(mk(i))
	}
	if len(s.later) != maxLater {
		t.Fatalf("%d announcements wait, want at most %d", len(s.later), maxLater)
	}
}
