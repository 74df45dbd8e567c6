package adversary

import (
	"context"
	"crypto/rand"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/work"
)

// Protocol-level attacks: single exchanges a test plays by hand.

// Lease asks pub once for a task of jobID and returns the grant, or nil
// when the publisher had none. The lease is not renewed.
func (p *Peer) Lease(ctx context.Context, pub peer.ID, jobID cid.Cid) (*work.Grant, error) {
	g, _, err := p.wire.lease(ctx, pub, jobID, p.version)
	if g != nil {
		p.note(func(s *Stats) { s.Leased = append(s.Leased, g.Task) })
	}
	return g, err
}

// DeliverJunk delivers size random bytes as the result of lease ref,
// whoever holds the lease (the junk deliverer), and returns how many of
// them the publisher asked for before it answered.
func (p *Peer) DeliverJunk(ctx context.Context, pub peer.ID, ref work.Ref, size int, claim int64) (sent int64, err error) {
	data := make([]byte, size)
	rand.Read(data)
	return p.wire.deliver(ctx, pub, ref, data, int64(size), claim)
}
