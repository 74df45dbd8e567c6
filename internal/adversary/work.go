package adversary

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/p2p"
	"github.com/renderswarm/renderswarm/work"
)

// errLeaseLost ends the work on a lease the publisher stopped honouring.
var errLeaseLost = errors.New("lease lost")

// copyClaim is what a copier claims for a result it did not render: about
// what a small frame takes, so the claim alone does not give it away.
const copyClaim = 50

// receiptsEvery is how often Work collects and countersigns receipts.
const receiptsEvery = 2 * time.Second

// Work leases tasks of jobID from pub and works each as b says, one after
// another (a squatter takes every lease at once), until ctx ends,
// b.MaxLeases were taken, or the publisher says the job is done or this
// peer is blocked. It returns once every lease it took is closed: stalled
// and squatted leases are renewed until the publisher refuses or ctx ends.
func (p *Peer) Work(ctx context.Context, pub peer.ID, jobID cid.Cid, b Behavior) error {
	if b.Copy && p.results == nil {
		return errors.New("adversary: a copier needs Config.WatchResults")
	}
	var held sync.WaitGroup
	defer held.Wait()
	defer func() {
		if ctx.Err() == nil {
			p.collect(ctx, pub) // the last receipts of the job
		}
	}()
	receipts := time.NewTicker(receiptsEvery)
	defer receipts.Stop()
	for taken := 0; b.MaxLeases == 0 || taken < b.MaxLeases; {
		select {
		case <-receipts.C:
			p.collect(ctx, pub)
		default:
		}
		var g *work.Grant
		var retry time.Duration
		var err error
		ask := func() { g, retry, err = p.wire.lease(ctx, pub, jobID, p.version) }
		if b.Tandem != nil {
			b.Tandem.ask(ctx, ask)
		} else {
			ask()
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			if work.Refused(err) {
				p.refused("lease", err)
			}
			retry = time.Second
		case g == nil && retry >= work.RetryDone:
			return nil // the job is done, or this peer is blocked
		}
		if g == nil {
			if err == nil {
				p.note(func(s *Stats) { s.NoWork++ })
			}
			if !sleep(ctx, min(retry, work.RetryNoWork)) {
				return nil
			}
			continue
		}
		taken++
		p.log.Info("adversaryLeased", "task", g.Task.String(), "lease", g.Lease)
		p.note(func(s *Stats) { s.Leased = append(s.Leased, g.Task); s.Held++ })
		lctx, lost := context.WithCancelCause(ctx)
		held.Add(1)
		go func() {
			defer held.Done()
			p.keepAlive(lctx, pub, g, cmp.Or(b.Progress, 0.5), lost)
		}()
		if !b.Squat {
			p.workOn(ctx, lctx, lost, pub, g, b)
		}
	}
	return nil
}

// workOn plays b on one lease. lctx ends when the lease is lost; lost
// ends it (and its renewals) when the work on it is over.
func (p *Peer) workOn(ctx, lctx context.Context, lost context.CancelCauseFunc, pub peer.ID, g *work.Grant, b Behavior) {
	if b.Sabotage {
		defer lost(nil)
		if err := p.wire.fail(ctx, pub, g.Ref, "render failed: out of memory"); err != nil {
			p.refused("fail", err)
			return
		}
		p.note(func(s *Stats) { s.Failed = append(s.Failed, g.Task) })
		return
	}
	started := time.Now()
	img, claim, copied, err := p.image(lctx, g, b)
	if err != nil {
		if lctx.Err() == nil {
			p.log.Warn("adversaryRenderFailed", "task", g.Task.String(), "err", err)
			if ferr := p.wire.fail(ctx, pub, g.Ref, err.Error()); ferr == nil {
				p.note(func(s *Stats) { s.Failed = append(s.Failed, g.Task) })
			}
		}
		lost(nil)
		return
	}
	if b.Claim > 0 {
		claim = b.Claim
	}
	if !sleep(lctx, time.Until(started.Add(b.Pace))) {
		lost(nil)
		return
	}
	revealed, err := p.wire.commit(lctx, pub, g, img)
	if err != nil {
		p.refused("commit", err)
		lost(nil)
		return
	}
	p.note(func(s *Stats) { s.Committed = append(s.Committed, g.Task) })
	if b.Stall {
		return // renewed by keepAlive until refused or ctx ends
	}
	err = p.wire.reveal(lctx, pub, g, img, claim, revealed)
	lost(nil)
	if err != nil {
		p.refused("deliver", err)
		return
	}
	p.log.Info("adversaryDelivered", "task", g.Task.String(), "copied", copied, "claim", claim)
	p.note(func(s *Stats) {
		s.Delivered = append(s.Delivered, g.Task)
		if copied {
			s.Copied = append(s.Copied, g.Task)
		}
	})
}

// image makes, copies or takes from the ring the image to commit to, with
// the claim for it. For a check replica it is the crop of the image of
// the whole task the behaviour makes: a colluder checks its partner's
// forgery with the same forgery.
func (p *Peer) image(ctx context.Context, g *work.Grant, b Behavior) (img Image, claim int64, copied bool, err error) {
	img, claim, copied, err = p.whole(ctx, g, b)
	if err != nil || g.Crop.Empty() {
		return img, claim, copied, err
	}
	tile := g.Manifest.TileRect(g.Task.Tile)
	px, err := credits.Decode(img.PNG, tile.Size())
	if err != nil {
		return Image{}, 0, false, err
	}
	img, err = newImage(px.SubImage(g.Crop.Sub(tile.Min)))
	share := float64(g.Crop.Dx()*g.Crop.Dy()) / float64(tile.Dx()*tile.Dy())
	return img, int64(float64(claim) * share), copied, err
}

// whole is image for the whole task.
func (p *Peer) whole(ctx context.Context, g *work.Grant, b Behavior) (img Image, claim int64, copied bool, err error) {
	switch {
	case b.Copy:
		data, err := p.results.await(ctx, g.Task)
		if err != nil {
			return Image{}, 0, false, err
		}
		px, err := credits.Decode(data, g.Manifest.TileRect(g.Task.Tile).Size())
		if err != nil {
			return Image{}, 0, false, fmt.Errorf("copied result: %w", err)
		}
		img, err = newImage(px)
		return img, copyClaim, true, err
	case b.Ring != nil:
		return b.Ring.image(ctx, g.Task, func() (Image, int64, error) { return p.render(ctx, g, b) })
	}
	img, claim, err = p.render(ctx, g, b)
	return img, claim, false, err
}

// keepAlive renews a lease every work.RenewEvery, reporting the render
// done that far, until ctx ends; a refusal means the lease is lost.
func (p *Peer) keepAlive(ctx context.Context, pub peer.ID, g *work.Grant, done float64, lost context.CancelCauseFunc) {
	defer p.note(func(s *Stats) { s.Held-- })
	t := time.NewTicker(work.RenewEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := p.wire.renew(ctx, pub, g.Ref, done)
		switch {
		case err == nil:
			p.note(func(s *Stats) { s.Renewed++ })
		case work.Refused(err):
			p.refused("renew", err)
			p.note(func(s *Stats) { s.Lost++ })
			lost(fmt.Errorf("%w: %v", errLeaseLost, err))
			return
		}
	}
}

// collect countersigns pub's receipts for this peer.
func (p *Peer) collect(ctx context.Context, pub peer.ID) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if got, err := p.wire.collectReceipts(ctx, pub); err != nil {
		p.log.Debug("receiptsNotCollected", "publisher", pub, "err", err)
	} else if len(got) > 0 {
		p.log.Info("receiptsCountersigned", "publisher", pub, "count", len(got))
	}
}

// Follow works every running job announced on the jobs topic as b says,
// until ctx ends (as a volunteer would, without its picker's manners).
func (p *Peer) Follow(ctx context.Context, b Behavior) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	var mu sync.Mutex
	started := map[cid.Cid]bool{}
	return p.net.Subscribe(ctx, work.JobsTopic, func(msg p2p.Message) {
		a, m, sm, err := work.DecodeAnnouncement(msg.Data, msg.From.String())
		if err != nil || a.State != "running" || m.Publisher == p.id {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if started[sm.ID()] {
			return
		}
		started[sm.ID()] = true
		p.log.Info("adversaryFollows", "job", sm.ID(), "publisher", m.Publisher)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Work(ctx, m.Publisher, sm.ID(), b); err != nil {
				p.log.Error("adversaryWorkFailed", "job", sm.ID(), "err", err)
			}
		}()
	})
}

// sleep waits d or until ctx ends; false means ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
