package scheduler

import (
	"errors"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/job"
)

// A renewed lease outlives its TTL up to MaxLease; an abandoned one expires
// one TTL after its last renewal and its task goes to someone else.
func TestRenew(t *testing.T) {
	id := testJob("renew")
	c := newCoord(t, Config{Job: id, Tasks: []job.Task{{Job: id, Frame: 1}}, Replicas: 2,
		LeaseTTL: 20 * time.Second, MaxLease: time.Minute})
	a, b, other := testPeer(t, 1), testPeer(t, 2), testPeer(t, 3)
	la, _ := c.Lease(t0, a, "")
	lb, _ := c.Lease(t0, b, "")
	if _, err := c.Renew(t0.Add(5*time.Second), la.ID, other); !errors.Is(err, ErrWrongPeer) {
		t.Fatalf("renewing another's lease: %v", err)
	}
	exp, err := la.Expires, error(nil)
	for s := 10; s <= 50; s += 10 {
		exp, err = c.Renew(t0.Add(time.Duration(s)*time.Second), la.ID, a)
		if err != nil {
			t.Fatalf("renew at %ds: %v", s, err)
		}
	}
	if want := t0.Add(time.Minute); !exp.Equal(want) {
		t.Fatalf("expiry after renewals = %v, want capped at %v", exp, want)
	}
	// b stopped renewing at t0: its lease expired at t0+20s, and a's at the cap.
	expired := c.Expire(t0.Add(61 * time.Second))
	if len(expired) != 2 || expired[0].ID != lb.ID && expired[1].ID != lb.ID {
		t.Fatalf("expired = %+v, want b's lease among them", expired)
	}
	if _, err := c.Renew(t0.Add(62*time.Second), lb.ID, b); err == nil {
		t.Fatal("an expired lease was renewed")
	}
	if l, err := c.Lease(t0.Add(62*time.Second), other, ""); err != nil || l.Task.Frame != 1 {
		t.Fatalf("requeued task not leased to a new peer: %+v, %v", l, err)
	}
}
