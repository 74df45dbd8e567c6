package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/p2p"
)

// keepAlive renews a lease every renewEvery until ctx ends. When the
// publisher answers that the lease is gone (expired, reassigned), the work
// is pointless: lost cancels it. An unreachable publisher is not an answer;
// the volunteer keeps working and delivers when it is back.
func (v *volunteer) keepAlive(ctx context.Context, o offer, g *p2p.LeaseGrant, lost context.CancelCauseFunc) {
	t := time.NewTicker(renewEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, err := v.call(ctx, o.Manifest.Publisher, p2p.WorkRequest{Op: p2p.OpRenew, Job: o.ID.String(), Lease: g.Lease, Progress: v.progressOf(g.Lease)})
		var re *p2p.RemoteError
		if errors.As(err, &re) {
			lost(fmt.Errorf("%w: %s", errLeaseLost, re.Msg))
			return
		}
	}
}

// callPatiently is call, retried while the publisher cannot be reached (it
// may be restarting) for up to deliverPatience. An answer, even an error,
// ends it.
func (v *volunteer) callPatiently(ctx context.Context, o offer, req p2p.WorkRequest) (p2p.WorkResponse, error) {
	deadline := time.Now().Add(deliverPatience)
	for {
		resp, err := v.call(ctx, o.Manifest.Publisher, req)
		var re *p2p.RemoteError
		if err == nil || errors.As(err, &re) || ctx.Err() != nil || time.Now().After(deadline) {
			return resp, err
		}
		v.log.Info("publisherUnreachable", "publisher", o.Manifest.Publisher, "op", req.Op, "err", err)
		select {
		case <-ctx.Done():
			return resp, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// collectReceiptsLoop asks the publishers this volunteer delivered to in the
// last hour for receipts, every few seconds, and countersigns them.
func (v *volunteer) collectReceiptsLoop(ctx context.Context) {
	t := time.NewTicker(3 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v.mu.Lock()
		var pubs []peer.ID
		for p, last := range v.owed {
			if time.Since(last) > time.Hour {
				delete(v.owed, p)
				continue
			}
			pubs = append(pubs, p)
		}
		v.mu.Unlock()
		for _, p := range pubs {
			if err := v.collectReceipts(ctx, p); err != nil && ctx.Err() == nil {
				v.log.Debug("receiptsNotCollected", "publisher", p, "err", err)
			}
		}
	}
}

// collectReceipts fetches a publisher's pending receipts for this
// volunteer, checks and countersigns each, and sends it back.
func (v *volunteer) collectReceipts(ctx context.Context, pub peer.ID) error {
	resp, err := v.call(ctx, pub, p2p.WorkRequest{Op: p2p.OpReceipts})
	if err != nil {
		return err
	}
	for _, raw := range resp.Receipts {
		r, sr, err := credits.OpenReceipt(raw)
		if err != nil {
			return fmt.Errorf("receipt from %s: %w", pub, err)
		}
		if r.Publisher != pub {
			return fmt.Errorf("receipt from %s names publisher %s", pub, r.Publisher)
		}
		signed, err := v.ledger.Accept(sr, v.key)
		if err != nil {
			return fmt.Errorf("receipt %d from %s: %w", r.Seq, pub, err)
		}
		b, err := signed.Marshal()
		if err != nil {
			return err
		}
		if _, err := v.call(ctx, pub, p2p.WorkRequest{Op: p2p.OpCountersign, Receipt: b}); err != nil {
			return err
		}
	}
	return nil
}
