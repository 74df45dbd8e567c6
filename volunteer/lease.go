package volunteer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/internal/clock"
	"github.com/renderswarm/renderswarm/internal/phase"
	"github.com/renderswarm/renderswarm/work"
)

// errNoWork means a publisher had nothing for this volunteer right now.
var errNoWork = errors.New("no work")

// errLeaseLost ends a render whose lease the publisher no longer honours.
var errLeaseLost = errors.New("lease lost")

// leaseTimeout bounds asking a publisher for work: a publisher that does
// not answer quickly is left alone for a while (backOff).
const leaseTimeout = 10 * time.Second

// workOn asks o's publisher for a lease (a backup one: see work.Client.Backup)
// and, if granted, renders it and starts delivering it in the background.
func (v *Volunteer) workOn(ctx context.Context, o Offer, backup bool) error {
	if v.gate(v.clock.Now()) != "" {
		return errNoWork // paused, or not now: no new leases
	}
	pub := o.Manifest.Publisher
	lctx, cancel := context.WithTimeout(ctx, leaseTimeout)
	asked := phase.Now()
	lease := v.cfg.Publishers.Lease
	if backup {
		lease = v.cfg.Publishers.Backup
	}
	a, err := lease(lctx, pub, o.ID, offered(v.cfg.Versions, v.Settings()))
	cancel()
	phase.Default.Since("volunteer.lease", asked)
	if err != nil {
		v.offers.publisherFailed(pub, v.clock.Now())
		return fmt.Errorf("asking for work: %w", err)
	}
	v.offers.publisherAnswered(pub)
	g := a.Grant
	if g == nil {
		v.offers.backOff(o.ID, v.clock.Now().Add(a.Retry))
		return errNoWork
	}
	v.log.Info("taskLeased", "task", g.Task.String())
	// The lease is renewed from here until its result is delivered.
	wctx, lost := context.WithCancelCause(ctx)
	v.track(o, g, lost)
	heartbeat := v.clock.NewTicker(work.RenewEvery)
	v.inFlight.Add(1)
	go func() {
		defer v.inFlight.Done()
		defer heartbeat.Stop()
		v.keepAlive(wctx, heartbeat, pub, g, lost)
	}()
	later := v.commitLater(g)
	r, err := v.render(wctx, g, !later)
	if err != nil {
		if later {
			v.committedLater(g)
		}
		if errors.Is(context.Cause(wctx), errHandedBack) {
			err = errHandedBack
		}
		lost(nil)
		v.handBack(ctx, pub, g, err)
		v.untrack(g.Lease, false, nil)
		switch {
		case errors.Is(err, errHandedBack):
			return errNoWork // not a failure of this volunteer
		case errors.Is(err, errFetchTooSlow):
			v.offers.publisherFailed(pub, v.clock.Now())
		}
		return err
	}
	// Deliver in the background while the next task renders: waiting for
	// the task's other replicas, and the publisher's check of this one,
	// overlap the rendering of the next. At most maxCommitted results wait
	// so, and maxDelivering upload at once. A volunteer the publisher lets
	// hold more than one uncommitted lease commits in the background too
	// (commitLater): the next lease overlaps the commitment's round trip.
	select {
	case v.committed <- struct{}{}:
	case <-ctx.Done():
		if later {
			v.committedLater(g)
		}
		lost(nil)
		os.RemoveAll(r.dir)
		v.handBack(ctx, pub, g, ctx.Err())
		v.untrack(g.Lease, false, nil)
		return ctx.Err()
	}
	v.inFlight.Add(1)
	go func() {
		defer v.inFlight.Done()
		defer func() { <-v.committed }()
		defer lost(nil)
		defer os.RemoveAll(r.dir)
		var err error
		if !r.committed {
			err = v.commitDeliver(wctx, pub, g, &r)
			v.committedLater(g)
		}
		if err == nil && !r.delivered {
			err = v.deliver(wctx, pub, g, r)
		}
		if err != nil {
			v.log.Warn("deliveryFailed", "task", g.Task.String(), "err", err)
			v.handBack(ctx, pub, g, err)
		}
		v.untrack(g.Lease, err == nil, r.preview)
	}()
	return nil
}

// keepAlive renews a lease at every tick of t (work.RenewEvery) until ctx
// ends. When the publisher answers that the lease is gone (expired,
// reassigned), the work is pointless: lost cancels it. An unreachable
// publisher is not an answer; the volunteer keeps working and delivers
// when it is back.
func (v *Volunteer) keepAlive(ctx context.Context, t clock.Ticker, pub peer.ID, g *work.Grant, lost context.CancelCauseFunc) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		_, err := v.cfg.Publishers.Renew(ctx, pub, g.Ref, v.heartbeat(g.Lease))
		if work.Refused(err) {
			lost(fmt.Errorf("%w: %v", errLeaseLost, err))
			return
		}
	}
}

// handBack tells the publisher a lease will not be delivered: failed, or
// released when the volunteer stops (ctx ended, or its gate closed).
func (v *Volunteer) handBack(ctx context.Context, pub peer.ID, g *work.Grant, cause error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handBackTimeout)
	defer cancel()
	if ctx.Err() != nil || errors.Is(cause, errHandedBack) {
		v.cfg.Publishers.Release(cctx, pub, g.Ref)
		return
	}
	if errors.Is(cause, errLeaseLost) {
		return // nothing to hand back
	}
	v.cfg.Publishers.Fail(cctx, pub, g.Ref, cause.Error())
}

// handBackTimeout bounds telling a publisher that a lease is handed back.
const handBackTimeout = 5 * time.Second

// retryEvery is how often a volunteer tries again to reach a publisher it
// has a result for.
const retryEvery = 2 * time.Second

// patiently runs call, again while the publisher cannot be reached (it may
// be restarting), for up to work.DeliverPatience. An answer, even a
// refusal, ends it.
func (v *Volunteer) patiently(ctx context.Context, pub peer.ID, op string, call func(context.Context) error) error {
	deadline := v.clock.Now().Add(work.DeliverPatience)
	var t clock.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		err := call(ctx)
		if err == nil || work.Refused(err) || ctx.Err() != nil || !v.clock.Now().Before(deadline) {
			return err
		}
		v.log.Info("publisherUnreachable", "publisher", pub, "op", op, "err", err)
		t = rearm(v.clock, t, retryEvery)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C():
		}
	}
}

// commitLater reports whether the volunteer may commit to g's result in
// the background, and if so counts it: the publisher lets it hold
// g.Slots uncommitted leases of the job, and fewer than g.Slots-1 of its
// commitments are on their way, so that the next lease fits beside them.
func (v *Volunteer) commitLater(g *work.Grant) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if g.Slots < 2 || v.committing[g.Job] >= g.Slots-1 {
		return false
	}
	v.committing[g.Job]++
	return true
}

// committedLater ends a background commitment commitLater counted.
func (v *Volunteer) committedLater(g *work.Grant) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.committing[g.Job]--; v.committing[g.Job] <= 0 {
		delete(v.committing, g.Job)
	}
}
