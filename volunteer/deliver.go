package volunteer

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/failpoint"
	"github.com/renderswarm/renderswarm/internal/phase"
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
		defer phase.Default.Since("volunteer.reveal", phase.Now())
		if err := v.reveal(ctx, pub, g); err != nil {
			return fmt.Errorf("waiting to deliver: %w", err)
		}
	}
	if _, err := v.upload(ctx, pub, g, r, false); err != nil {
		return fmt.Errorf("delivering: %w", err)
	}
	return nil
}

// commitDeliverMax is the largest result commitDeliver sends with its
// commitment: a larger one waits for an upload slot (maxDelivering), and
// its commitment, which frees the lease's slot at the publisher, should
// not.
const commitDeliverMax = 1 << 20

// commitDeliver sends the publisher r's commitment and, for a small result
// the publisher lets it reveal at once, the result in the same exchange
// (work.Client.CommitDeliver): a volunteer that commits in the background
// (commitLater) saves a round trip per task. It notes in r what happened.
func (v *Volunteer) commitDeliver(ctx context.Context, pub peer.ID, g *work.Grant, r *rendered) error {
	if st, err := os.Stat(r.path); err != nil || st.Size() > commitDeliverMax {
		return v.commitTo(ctx, g, r)
	}
	delivered, err := v.upload(ctx, pub, g, *r, true)
	if work.Refused(err) {
		// A publisher of an earlier version takes a delivery only after
		// its commitment, and refuses this one before reading the result;
		// otherwise the refusal is the lease's, and commitTo hears it
		// again (the same commitment twice is harmless).
		return v.commitTo(ctx, g, r)
	}
	if err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	r.committed, r.revealed, r.delivered = true, delivered, delivered
	if !delivered {
		v.setPhase(g.Lease, Committed, 1)
	}
	return nil
}

// upload sends r's PNG to its publisher once it is free to (at most
// maxDelivering at once): a delivery, or with commit set a commitment
// delivered with it when the publisher lets it (delivered).
func (v *Volunteer) upload(ctx context.Context, pub peer.ID, g *work.Grant, r rendered, commit bool) (delivered bool, err error) {
	select {
	case v.delivering <- struct{}{}:
		defer func() { <-v.delivering }()
	case <-ctx.Done():
		return false, ctx.Err()
	}
	v.setPhase(g.Lease, Delivering, 1)
	// The publisher will owe a receipt once it takes the result: noted
	// before delivering, so that a crash right after still asks for it.
	if err := v.owe(pub); err != nil {
		return false, fmt.Errorf("noting the delivery: %w", err)
	}
	d := work.Delivery{Ref: g.Ref, CU: r.claim}
	uploading := phase.Now()
	op := "deliver"
	if commit {
		op = "commit"
	}
	err = v.patiently(ctx, pub, op, func(ctx context.Context) error {
		f, err := os.Open(r.path)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if commit {
			delivered, err = v.cfg.Publishers.CommitDeliver(ctx, pub, d, r.commit, f, st.Size())
			return err
		}
		delivered = true
		return v.cfg.Publishers.Deliver(ctx, pub, d, f, st.Size())
	})
	if err != nil {
		return false, err
	}
	if delivered {
		phase.Default.Since("volunteer.deliver", uploading)
		failpoint.Hit(failpoint.ResultDelivered)
		v.log.Info("taskDelivered", "task", g.Task.String())
	} else {
		phase.Default.Since("volunteer.commit", uploading)
	}
	return delivered, nil
}

// owe notes durably that pub will owe a receipt (credits.Ledger.Owe), at
// most once every oweEvery per publisher: the note keeps the publisher
// asked for owedFor, and writing it at every delivery was a durable write
// per task.
func (v *Volunteer) owe(pub peer.ID) error {
	now := v.clock.Now()
	v.mu.Lock()
	last, ok := v.owedAt[pub]
	v.mu.Unlock()
	if ok && now.Sub(last) < oweEvery && !now.Before(last) {
		return nil
	}
	if err := v.cfg.Ledger.Owe(pub, now); err != nil {
		return err
	}
	v.mu.Lock()
	v.owedAt[pub] = now
	v.mu.Unlock()
	return nil
}

// oweEvery is how often a volunteer renews its note that a publisher owes
// it receipts while delivering to it.
const oweEvery = time.Minute

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
		pubs, err := v.cfg.Ledger.Owed(v.clock.Now().Add(-owedFor))
		if err != nil {
			v.log.Error("receiptsNotCollected", "err", err)
			continue
		}
		for _, p := range pubs {
			if err := v.collectReceipts(ctx, p); err != nil && ctx.Err() == nil {
				v.log.Debug("receiptsNotCollected", "publisher", p, "err", err)
			}
		}
	}
}

// collectReceipts fetches a publisher's pending receipts for this
// volunteer, checks, countersigns and stores them (one transaction), and
// sends them back in one request (one transaction at the publisher). A receipt
// that conflicts with what this node holds (the publisher lost receipts in
// a crash and issued their numbers again) is answered with the copies held,
// which the publisher adopts; it does not stop the others.
func (v *Volunteer) collectReceipts(ctx context.Context, pub peer.ID) error {
	list, err := v.cfg.Publishers.Receipts(ctx, pub)
	var signed []credits.SignedReceipt
	accepted, aerrs := v.cfg.Ledger.AcceptAll(v.cfg.Key, list...) // one transaction
	for i, sr := range list {
		aerr := aerrs[i]
		if aerr == nil {
			failpoint.Hit(failpoint.ReceiptAccepted)
			signed = append(signed, accepted[i])
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
	if len(signed) > 0 {
		if err := v.cfg.Publishers.Countersign(ctx, pub, signed...); err != nil {
			return err
		}
		failpoint.Hit(failpoint.ReceiptCountersigned)
	}
	return err
}
