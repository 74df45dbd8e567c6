package publisher

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// A peer that keeps asking for leases and gets none is throttled after
// leaseBurst asks; one whose every ask is granted work is not, however
// fast it asks (its uncommitted leases bound it instead).
func TestLeaseAsksThrottledOnlyWithoutWork(t *testing.T) {
	l := newLimiter()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	idle, busy := peer.ID("idle"), peer.ID("busy")
	for i := range leaseBurst {
		if ok, _ := l.Take(idle, now); !ok {
			t.Fatalf("ask %d of an idle peer refused within the burst", i+1)
		}
	}
	if ok, _ := l.Take(idle, now); ok {
		t.Fatalf("ask %d of an idle peer at the same instant allowed", leaseBurst+1)
	}
	if ok, _ := l.Take(idle, now.Add(time.Second/leaseRate)); !ok {
		t.Fatal("an idle peer still refused once a token came back")
	}
	for i := range 10 * leaseBurst {
		ok, refund := l.Take(busy, now.Add(time.Duration(i)*time.Millisecond))
		if !ok {
			t.Fatalf("ask %d of a peer granted work each time refused", i+1)
		}
		refund()
	}
}
