package volunteer

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/work"
)

// reveal waits until the publisher lets the committed result be revealed:
// every replica of its task has committed or lost its lease. The lease's
// heartbeat goes on meanwhile.
func (v *Volunteer) reveal(ctx context.Context, pub peer.ID, g *work.Grant) error {
	for {
		var reveal bool
		err := v.patiently(ctx, pub, "await", func(ctx context.Context) error {
			var err error
			reveal, err = v.cfg.Publishers.Await(ctx, pub, g.Ref)
			return err
		})
		if err != nil || reveal {
			return err
		}
	}
}

// deliver reveals a committed image to its publisher, on the delivery
// stream: nothing of it is shared with anyone else.
func (v *Volunteer) deliver(ctx context.Context, pub peer.ID, g *work.Grant, r rendered) error {
	if !r.revealed {
		if err := v.reveal(ctx, pub, g); err != nil {
			return fmt.Errorf("waiting to deliver: %w", err)
		}
	}
	select {
	case v.delivering <- struct{}{}:
		defer func() { <-v.delivering }()
	case <-ctx.Done():
		return ctx.Err()
	}
	v.setPhase(g.Lease, Delivering, 1)
	d := work.Delivery{Ref: g.Ref, CU: r.claim}
	err := v.patiently(ctx, pub, "deliver", func(ctx context.Context) error {
		f, err := os.Open(r.path)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		return v.cfg.Publishers.Deliver(ctx, pub, d, f, st.Size())
	})
	if err != nil {
		return fmt.Errorf("delivering: %w", err)
	}
	v.mu.Lock()
	v.owed[pub] = v.clock.Now()
	v.mu.Unlock()
	v.log.Info("taskDelivered", "task", g.Task.String())
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
// volunteer, checks and countersigns each, and sends it back. A receipt
// that conflicts with what this node holds (the publisher lost receipts in
// a crash and issued their numbers again) is answered with the copies held,
// which the publisher adopts; it does not stop the others.
func (v *Volunteer) collectReceipts(ctx context.Context, pub peer.ID) error {
	list, err := v.cfg.Publishers.Receipts(ctx, pub)
	for _, sr := range list {
		signed, aerr := v.cfg.Ledger.Accept(sr, v.cfg.Key)
		if aerr == nil {
			if err := v.cfg.Publishers.Countersign(ctx, pub, signed); err != nil {
				return err
			}
			continue
		}
		r, _ := sr.Verify()
		v.log.Warn("receiptConflict", "publisher", pub, "seq", r.Seq, "task", r.Task.String(), "err", aerr)
		held, herr := v.cfg.Ledger.Conflicting(r)
		if herr != nil {
			return herr
		}
		for _, h := range held {
			if err := v.cfg.Publishers.Countersign(ctx, pub, h); err != nil {
				v.log.Warn("receiptNotRepaired", "publisher", pub, "err", err)
			}
		}
	}
	return err
}
