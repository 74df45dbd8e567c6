package peerrate

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// A peer's bucket empties after its burst and refills at its rate; a
// refunded token is spent again; idle peers are forgotten, busy ones kept.
func TestBuckets(t *testing.T) {
	b := New(1, 2, time.Minute)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p, q := peer.ID("p"), peer.ID("q")
	for i := range 2 {
		if ok, _ := b.Take(p, now); !ok {
			t.Fatalf("take %d refused within the burst", i+1)
		}
	}
	if ok, _ := b.Take(p, now); ok {
		t.Fatal("a take past the burst was allowed")
	}
	ok, refund := b.Take(q, now)
	if !ok {
		t.Fatal("another peer's first take refused")
	}
	refund() // its burst is whole again
	for i := range 2 {
		if ok, _ := b.Take(q, now); !ok {
			t.Fatalf("take %d after a refund refused", i+1)
		}
	}
	if ok, _ := b.Take(q, now); ok {
		t.Fatal("a take past the refunded burst was allowed")
	}
	if ok, _ := b.Take(p, now.Add(time.Second)); !ok {
		t.Fatal("no token after a second at one a second")
	}
	b.Prune(now.Add(time.Second + time.Minute/2))
	if len(b.peers) != 2 {
		t.Fatalf("%d peers after pruning none idle, want 2", len(b.peers))
	}
	b.Prune(now.Add(2 * time.Minute))
	if len(b.peers) != 0 {
		t.Fatalf("%d peers left after all went idle", len(b.peers))
	}
}
