package publisher

import (
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/work"
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

// A job's idle askers are told to wait longer the more of them there are,
// so that together they ask about noWorkRate times a second; those not
// seen for idleFor stop counting.
func TestNoWorkRetryGrowsWithIdleAskers(t *testing.T) {
	var s idlers
	t0 := time.Unix(1_800_000_000, 0)
	ask := func(from, n int, now time.Time) time.Duration {
		var d time.Duration
		for i := from; i < from+n; i++ {
			d = s.retry(peer.ID(fmt.Sprint("peer", i)), now)
		}
		return d
	}
	if d := ask(0, 10, t0); d != work.RetryNoWork {
		t.Fatalf("10 idle askers are told %v, want %v", d, work.RetryNoWork)
	}
	if d := ask(0, 1500, t0); d != 30*time.Second {
		t.Fatalf("1,500 idle askers are told %v, want 30s", d)
	}
	// Two minutes on, 600 others ask; the 1,500 are forgotten.
	if d := ask(10_000, 600, t0.Add(2*time.Minute)); d != 12*time.Second {
		t.Fatalf("600 idle askers after the others left are told %v, want 12s", d)
	}
}
