package adversary

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"

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

// DeliverAsset delivers asset c as the result of lease ref, whoever holds
// the lease and whatever c holds (the junk deliverer).
func (p *Peer) DeliverAsset(ctx context.Context, pub peer.ID, ref work.Ref, c cid.Cid, claim int64) error {
	return p.wire.deliverAsset(ctx, pub, ref, c, claim)
}

// ShareJunk makes an asset of size random bytes in a file called name,
// seeds it and returns its CID.
func (p *Peer) ShareJunk(ctx context.Context, name string, size int) (cid.Cid, error) {
	dir, err := os.MkdirTemp(p.wire.scratch, "junk-")
	if err != nil {
		return cid.Undef, err
	}
	defer os.RemoveAll(dir)
	data := make([]byte, size)
	rand.Read(data)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return cid.Undef, err
	}
	info, err := p.store.Add(ctx, []string{path})
	if err != nil {
		return cid.Undef, fmt.Errorf("sharing junk: %w", err)
	}
	return info.CID, nil
}
