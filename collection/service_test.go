package collection

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/renderswarm/renderswarm/assets"
	"github.com/renderswarm/renderswarm/internal/db"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/p2p"
)

// quietNet is a network with no peers.
type quietNet struct{}

func (quietNet) Provide(context.Context, cid.Cid) error { return nil }
func (quietNet) FindProviders(context.Context, cid.Cid) <-chan peer.AddrInfo {
	ch := make(chan peer.AddrInfo)
	close(ch)
	return ch
}
func (quietNet) Call(context.Context, peer.ID, protocol.ID, []byte) ([]byte, error) {
	return nil, errors.New("no peers")
}
func (quietNet) Publish(context.Context, string, []byte) error { return nil }
func (quietNet) Subscribe(ctx context.Context, _ string, _ func(p2p.Message)) error {
	<-ctx.Done()
	return nil
}

// fakeStore records what the service fetched and pinned.
type fakeStore struct {
	mu     sync.Mutex
	got    []cid.Cid
	pinned []cid.Cid
}

func (*fakeStore) AddListing(context.Context, []string) (assets.Info, error) {
	return assets.Info{}, errors.New("not here")
}
func (f *fakeStore) Get(_ context.Context, c cid.Cid, _ func(assets.Progress)) (assets.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, c)
	return assets.Info{CID: c}, nil
}
func (f *fakeStore) Pin(c cid.Cid, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pinned = append(f.pinned, c)
	return nil
}

func newService(t *testing.T, store Store) *Service {
	t.Helper()
	key, _, _ := crypto.GenerateEd25519Key(nil)
	d, err := db.Open(filepath.Join(t.TempDir(), "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	s, err := New(Config{Key: key, DB: d, Store: store, Net: quietNet{}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreRules(t *testing.T) {
	s := newService(t, &fakeStore{})
	owner, _, _ := crypto.GenerateEd25519Key(nil)
	v1, v2, v3 := signed(t, owner, 1), signed(t, owner, 2), signed(t, owner, 3)
	data := func(r Record) []byte { b, _ := r.Marshal(); return b }
	if _, err := s.Import(data(v2)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(data(v1)); !errors.Is(err, ErrBackwards) {
		t.Fatalf("importing v1 after v2: %v, want ErrBackwards", err)
	}
	if isNew, err := s.store(v1, false); err != nil || !isNew {
		t.Fatalf("v1 as history: %v, %v", isNew, err)
	}
	other := v3
	other.Version, other.Listing = 2, job.AssetCID([20]byte{9})
	other, _ = other.Sign(owner)
	if _, err := s.store(other, false); !errors.Is(err, ErrConflict) {
		t.Fatalf("another listing for v2: %v, want ErrConflict", err)
	}
	ref := Ref{Owner: v1.Owner, Name: v1.Name}
	list, err := s.Versions(t.Context(), ref)
	if err != nil || len(list) != 2 || list[0].Version != 2 || list[1].Version != 1 {
		t.Fatalf("versions: %v, %v", list, err)
	}
}

// A followed collection's newest version is fetched and pinned when
// following starts and again when a newer record arrives.
func TestFollowFetchesNewVersions(t *testing.T) {
	st := &fakeStore{}
	s := newService(t, st)
	owner, _, _ := crypto.GenerateEd25519Key(nil)
	v1 := signed(t, owner, 1)
	b1, _ := v1.Marshal()
	if _, err := s.Import(b1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	fetched := func(n int) bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		return len(st.got) >= n && len(st.pinned) >= n
	}
	if err := s.Follow(Ref{Owner: v1.Owner, Name: v1.Name}, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "v1 fetched", func() bool { return fetched(1) })
	v2 := signed(t, owner, 2)
	v2.Listing = v1.Listing // the fake store does not care
	b2, _ := v2.Marshal()
	s.gossiped(p2p.Message{From: v2.Owner, Data: b2})
	waitFor(t, "v2 fetched", func() bool { return fetched(2) })
	// The service notes the version it fetched right after pinning it.
	waitFor(t, "v2 noted as fetched", func() bool {
		list, err := s.List()
		return err == nil && len(list) == 1 && list[0].Fetched == 2
	})
	list, err := s.List()
	if err != nil || len(list) != 1 || !list[0].Followed || list[0].Fetched != 2 {
		t.Fatalf("collections: %+v, %v", list, err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
