package assets

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/assets/assetstest"
)

// startSmall runs a store that keeps at most open assets open in its
// torrent client.
func startSmall(t *testing.T, mem *assetstest.Mem, cfg Config, open int) *testNode {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.maxOpen = open
	return runStore(t, s, cfg)
}

func (n *testNode) open() int {
	n.s.mu.Lock()
	defer n.s.mu.Unlock()
	return len(n.s.torrents)
}

// A store offers every asset it holds but keeps only the recently used
// ones open in its torrent client (each costs memory whether or not anyone
// downloads it): a peer asking for one that was closed, or never opened
// since a restart, still gets it.
func TestClosedAssetsAreStillServed(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a node")
	}
	mem := assetstest.NewMem()
	cfg := newConfig(t, mem, assetstest.Host(t))
	a := startSmall(t, mem, cfg, 2)
	var added []Info
	for i := range 6 {
		added = append(added, addRandom(t, a.s, "f"+string(rune('a'+i))+".bin", 64<<10))
		if n := a.open(); n > 2+2/4 {
			t.Fatalf("%d assets open after %d added, want at most 2", n, i+1)
		}
	}
	if st := a.s.Stats(); st.Seeding != 6 {
		t.Fatalf("Stats().Seeding = %d, want the 6 stored", st.Seeding)
	}
	b := startNode(t, mem, nil)
	first := added[0]
	if _, err := b.s.Get(ctxFor(t, 20*time.Second), first.CID, nil); err != nil {
		t.Fatalf("getting an asset its seeder closed: %v", err)
	}
	root, _ := b.s.Path(first.CID)
	got, _ := a.s.Path(first.CID)
	sameTree(t, got, root)

	a.stop()
	a2 := startSmall(t, mem, cfg, 2)
	<-a2.s.ready
	if n := a2.open(); n != 2 {
		t.Fatalf("%d assets open after a restart, want the 2 most recently used", n)
	}
	c := startNode(t, mem, nil)
	if _, err := c.s.Get(ctxFor(t, 20*time.Second), added[1].CID, nil); err != nil {
		t.Fatalf("getting an asset not opened since a restart: %v", err)
	}
}

// A stock client's handshake on the plain BitTorrent listener opens the
// asset it names too: the node answers with its own handshake for it.
func TestPlainHandshakeOpensAClosedAsset(t *testing.T) {
	mem := assetstest.NewMem()
	cfg := newConfig(t, mem, assetstest.Host(t))
	cfg.BTListen = "127.0.0.1:0"
	a := startSmall(t, mem, cfg, 1)
	<-a.s.ready
	first := addRandom(t, a.s, "first.bin", 16<<10)
	addRandom(t, a.s, "second.bin", 16<<10)
	addRandom(t, a.s, "third.bin", 16<<10)
	ih := mustIH(t, first)
	if a.s.seeding(ih) != nil {
		t.Fatal("the least recently used asset is still open")
	}
	a.s.mu.Lock()
	addr := a.s.bt.Addr().String()
	a.s.mu.Unlock()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	hs := append(append(append([]byte(nil), btHandshakeHead...), make([]byte, 8)...), ih[:]...)
	hs = append(hs, []byte("-XX0001-123456789012")...)
	if _, err := c.Write(hs); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, btInfoHashEnd)
	if _, err := io.ReadFull(c, reply); err != nil {
		t.Fatalf("no handshake back for a stored asset that was closed: %v", err)
	}
	if got, ok := infoHashOf(reply); !ok || got != ih {
		t.Fatalf("handshake back %q, want one for %s", reply, first.CID)
	}
	// Then its peer ID and its first message (it has every piece); a
	// client that does not have the torrent hangs up instead.
	if _, err := io.ReadFull(c, make([]byte, 20+4)); err != nil {
		t.Fatalf("the node hung up after the handshake for a stored asset that was closed: %v", err)
	}
}
