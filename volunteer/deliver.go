package volunteer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/work"
)

// deliver shares a committed image as an asset and reveals it to the
// publisher.
func (v *Volunteer) deliver(ctx context.Context, pub peer.ID, g *work.Grant, r rendered) error {
	name := filepath.Join(r.dir, fmt.Sprintf("frame_%04d_tile%02d.png", g.Task.Frame, g.Task.Tile))
	if err := os.Rename(r.path, name); err != nil {
		return err
	}
	asset, err := v.cfg.Assets.Add(ctx, []string{name})
	if err != nil {
		return fmt.Errorf("sharing result: %w", err)
	}
	d := work.Delivery{Ref: g.Ref, Result: asset.CID, CU: r.claim}
	if err := v.patiently(ctx, pub, "deliver", func(ctx context.Context) error {
		return v.cfg.Publishers.Deliver(ctx, pub, d)
	}); err != nil {
		return fmt.Errorf("delivering: %w", err)
	}
	v.mu.Lock()
	v.owed[pub] = v.clock.Now()
	v.mu.Unlock()
	v.log.Info("taskDelivered", "task", g.Task.String(), "result", asset.CID)
	return nil
}

// Receipt collection: publishers delivered to within owedFor are asked for
// receipts every receiptsEvery.
const (
	receiptsEvery = 3 * time.Second
	owedFor       = time.Hour
)

// collectReceiptsLoop asks the publishers this volunteer delivered to in
// the last owedFor for receipts, every receiptsEvery, and countersigns
// them.
func (v *Volunteer) collectReceiptsLoop(ctx context.Context) {
	t := v.clock.NewTicker(receiptsEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		now := v.clock.Now()
		v.mu.Lock()
		var pubs []peer.ID
		for p, last := range v.owed {
			if now.Sub(last) > owedFor {
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
func (v *Volunteer) collectReceipts(ctx context.Context, pub peer.ID) error {
	list, err := v.cfg.Publishers.Receipts(ctx, pub)
	for _, sr := range list {
		signed, err := v.cfg.Ledger.Accept(sr, v.cfg.Key)
		if err != nil {
			return fmt.Errorf("receipt from %s: %w", pub, err)
		}
		if err := v.cfg.Publishers.Countersign(ctx, pub, signed); err != nil {
			return err
		}
	}
	return err
}
