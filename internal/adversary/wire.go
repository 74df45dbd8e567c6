package adversary

import (
	"bytes"
	"context"
	"io"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/render/builtin"
	"github.com/renderswarm/renderswarm/work"
)

// wire is every work-protocol exchange the kit makes, in one place
// (protocol /renderswarm/work/2):
//
//	lease    Lease; a grant or how long to wait
//	renew    Renew with progress
//	commit   Commit to job.Commit(salt, pixel digest); the answer says
//	         whether to reveal at once
//	reveal   Await until every replica of the task has committed, then
//	         Deliver the PNG's bytes on the delivery stream with the claim
//	fail     Fail with a reason; release is its own op
type wire struct {
	client *work.Client
	key    crypto.PrivKey
	ledger *credits.Ledger
}

// lease asks pub for a task of jobID, offering the built-in renderer. A
// nil grant comes with how long the publisher asked to wait.
func (w wire) lease(ctx context.Context, pub peer.ID, jobID cid.Cid, version string) (*work.Grant, time.Duration, error) {
	a, err := w.client.Lease(ctx, pub, jobID, map[string]string{builtin.Name: version})
	if err != nil {
		return nil, 0, err
	}
	return a.Grant, a.Retry, nil
}

func (w wire) renew(ctx context.Context, pub peer.ID, ref work.Ref, progress float64) error {
	_, err := w.client.Renew(ctx, pub, ref, progress)
	return err
}

// commit binds the lease to the pixels of img; reveal says deliver now.
func (w wire) commit(ctx context.Context, pub peer.ID, g *work.Grant, img Image) (reveal bool, err error) {
	return w.client.Commit(ctx, pub, g.Ref, job.Commit(g.Salt, img.Digest))
}

// reveal waits until the publisher lets the committed image go (unless it
// said so at the commitment) and delivers it with the claim.
func (w wire) reveal(ctx context.Context, pub peer.ID, g *work.Grant, img Image, claim int64, revealed bool) error {
	for !revealed {
		var err error
		if revealed, err = w.client.Await(ctx, pub, g.Ref); err != nil {
			return err
		}
	}
	_, err := w.deliver(ctx, pub, g.Ref, img.PNG, int64(len(img.PNG)), claim)
	return err
}

// deliver sends data as the result of lease ref, declaring size bytes,
// whoever holds the lease and whatever data holds (the junk deliverer);
// it returns how many bytes of data the publisher asked for.
func (w wire) deliver(ctx context.Context, pub peer.ID, ref work.Ref, data []byte, size, claim int64) (sent int64, err error) {
	r := &countingReader{r: bytes.NewReader(data)}
	err = w.client.Deliver(ctx, pub, work.Delivery{Ref: ref, CU: claim}, r, size)
	return r.n.Load(), err
}

// countingReader counts what is read from it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (w wire) fail(ctx context.Context, pub peer.ID, ref work.Ref, reason string) error {
	return w.client.Fail(ctx, pub, ref, reason)
}

func (w wire) release(ctx context.Context, pub peer.ID, ref work.Ref) error {
	return w.client.Release(ctx, pub, ref)
}

// collectReceipts countersigns what pub issued to this peer, as an honest
// volunteer does, and returns the receipts it accepted.
func (w wire) collectReceipts(ctx context.Context, pub peer.ID) ([]credits.SignedReceipt, error) {
	list, err := w.client.Receipts(ctx, pub)
	var out []credits.SignedReceipt
	for _, sr := range list {
		signed, err := w.ledger.Accept(sr, w.key)
		if err != nil {
			return out, err
		}
		if err := w.client.Countersign(ctx, pub, signed); err != nil {
			return out, err
		}
		out = append(out, signed)
	}
	return out, err
}
