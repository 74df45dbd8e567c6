package scheduler

import (
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/renderswarm/renderswarm/job"
)

func TestLeaseTask(t *testing.T) {
	h, _ := mh.Sum([]byte("job"), mh.SHA2_256, -1)
	id := cid.NewCidV1(job.JSONCodec, h)
	tasks := []job.Task{{Job: id, Frame: 1}, {Job: id, Frame: 2}}
	c, err := New(Config{Job: id, Tasks: tasks, Replicas: 2, LeaseTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	_, pub, _ := crypto.GenerateEd25519Key(nil)
	p, _ := peer.IDFromPublicKey(pub)
	l, err := c.Lease(time.Unix(1000, 0), p, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := c.LeaseTask(l.ID); !ok || got != l.Task {
		t.Fatalf("LeaseTask(%s) = %v, %v; want %v", l.ID, got, ok, l.Task)
	}
	if _, ok := c.LeaseTask("no-such-lease"); ok {
		t.Fatal("an unknown lease has a task")
	}
}
