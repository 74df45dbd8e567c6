package scheduler

import (
	"errors"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/renderswarm/renderswarm/job"
)

func renewPeer(t *testing.T) peer.ID {
	_, pub, _ := crypto.GenerateEd25519Key(nil)
	p, _ := peer.IDFromPublicKey(pub)
	return p
}

// A renewed lease outlives its TTL up to MaxLease; an abandoned one expires
// one TTL after its last renewal and its task goes to someone else.
func TestRenew(t *testing.T) {
	h, _ := mh.Sum([]byte("renew"), mh.SHA2_256, -1)
	id := cid.NewCidV1(job.JSONCodec, h)
	c, err := New(Config{Job: id, Tasks: []job.Task{{Job: id, Frame: 1}}, Replicas: 2,
		LeaseTTL: 20 * time.Second, MaxLease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(10_000, 0)
	a, b, other := renewPeer(t), renewPeer(t), renewPeer(t)
	la, _ := c.Lease(t0, a, "")
	lb, _ := c.Lease(t0, b, "")
	if _, err := c.Renew(t0.Add(5*time.Second), la.ID, other); !errors.Is(err, ErrWrongPeer) {
		t.Fatalf("renewing another's lease: %v", err)
	}
	exp := la.Expires
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
