package work

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// A publisher may announce twice MaxOffersPerPublisher jobs at once, then
// MaxOffersPerPublisher per AnnounceEvery; another publisher's budget is
// its own.
func TestAnnounceBudget(t *testing.T) {
	b := NewAnnounceBudget()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	flood, other := peer.ID("flood"), peer.ID("other")
	allowed := 0
	for range 10 * MaxOffersPerPublisher {
		if b.Allow(flood, now) {
			allowed++
		}
	}
	if allowed != 2*MaxOffersPerPublisher {
		t.Fatalf("%d of a burst allowed, want %d", allowed, 2*MaxOffersPerPublisher)
	}
	if !b.Allow(other, now) {
		t.Fatal("another publisher's announcement refused")
	}
	allowed = 0
	later := now.Add(AnnounceEvery)
	for range 10 * MaxOffersPerPublisher {
		if b.Allow(flood, later) {
			allowed++
		}
	}
	if allowed != MaxOffersPerPublisher {
		t.Fatalf("%d allowed one AnnounceEvery later, want %d", allowed, MaxOffersPerPublisher)
	}
}
