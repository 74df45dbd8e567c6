package publisher

import (
	"context"
	"errors"
	"fmt"
	"image"
	"net"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/scheduler"
	"github.com/renderswarm/renderswarm/work"
)

// The publisher answers the work protocol.
var _ work.Server = (*Publisher)(nil)

// fetchResultTimeout bounds fetching one delivered image.
const fetchResultTimeout = 25 * time.Second

// Lease hands a volunteer one replica of one task, or tells it when to ask
// again.
func (p *Publisher) Lease(_ context.Context, from peer.ID, id cid.Cid, renderers map[string]string) (work.LeaseAnswer, error) {
	j, err := p.job(id)
	if err != nil {
		return work.LeaseAnswer{}, err
	}
	if from == p.self {
		return work.LeaseAnswer{}, errors.New("a node does not render its own jobs")
	}
	if v := renderers[j.m.Renderer.Name]; v != j.m.Renderer.Version {
		return work.LeaseAnswer{}, fmt.Errorf("job needs %s %s", j.m.Renderer.Name, j.m.Renderer.Version)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	now := p.clock.Now()
	l, err := j.coord.Lease(now, from, p.prefix(from))
	switch {
	case errors.Is(err, scheduler.ErrJobDone):
		return work.LeaseAnswer{Retry: work.RetryDone}, nil
	case errors.Is(err, scheduler.ErrNoWork), errors.Is(err, scheduler.ErrPaused):
		return work.LeaseAnswer{Retry: work.RetryNoWork}, nil
	case errors.Is(err, scheduler.ErrBlocked):
		return work.LeaseAnswer{Retry: work.RetryBlocked}, nil
	case err != nil:
		return work.LeaseAnswer{}, err
	}
	if err := p.save(j); err != nil {
		return work.LeaseAnswer{}, err
	}
	if j.firstLease.IsZero() {
		j.firstLease = now
	}
	j.leased++
	p.log.Info("leased", "task", l.Task.String(), "peer", from)
	return work.LeaseAnswer{Grant: &work.Grant{
		Ref: work.Ref{Job: id, Lease: l.ID}, Task: l.Task, Salt: l.Salt, Expires: l.Expires,
		Manifest: j.m, Signed: j.signed,
	}}, nil
}

// prefix is the network prefix replicas are spread across: the /16 of a
// public IPv4 peer, the /32 of a public IPv6 one, and "" on a LAN or
// loopback, where every peer shares one.
func (p *Publisher) prefix(id peer.ID) string {
	for _, a := range p.cfg.Net.RemoteAddrs(id) {
		ip, err := manet.ToIP(a)
		if err != nil || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() {
			continue
		}
		if v4 := ip.To4(); v4 != nil {
			return (&net.IPNet{IP: v4.Mask(net.CIDRMask(16, 32)), Mask: net.CIDRMask(16, 32)}).String()
		}
		return (&net.IPNet{IP: ip.Mask(net.CIDRMask(32, 128)), Mask: net.CIDRMask(32, 128)}).String()
	}
	return ""
}

// Renew is a volunteer's heartbeat on a lease, with its render's progress.
// Renewals are soft state and not persisted: after a restart, the
// coordinator extends live leases by the downtime.
func (p *Publisher) Renew(_ context.Context, from peer.ID, ref work.Ref, progress float64) (time.Time, error) {
	j, err := p.job(ref.Job)
	if err != nil {
		return time.Time{}, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	exp, err := j.coord.Renew(p.clock.Now(), ref.Lease, from)
	if err != nil {
		return time.Time{}, err
	}
	j.progress[ref.Lease] = progress
	return exp, nil
}

// Commit records a volunteer's commitment to its result.
func (p *Publisher) Commit(_ context.Context, from peer.ID, ref work.Ref, c job.Commitment) error {
	j, err := p.job(ref.Job)
	if err != nil {
		return err
	}
	return p.update(j, func() error { return j.coord.Commit(p.clock.Now(), ref.Lease, from, c) })
}

// Fail closes a lease whose render failed and keeps the renderer's last
// words for the job's status.
func (p *Publisher) Fail(_ context.Context, from peer.ID, ref work.Ref, reason string) error {
	j, err := p.job(ref.Job)
	if err != nil {
		return err
	}
	p.log.Info("renderFailed", "job", j.id, "peer", from, "reason", reason)
	return p.update(j, func() error {
		delete(j.progress, ref.Lease)
		task, ok := j.coord.LeaseTask(ref.Lease)
		if err := j.coord.Fail(p.clock.Now(), ref.Lease, from); err != nil {
			return err
		}
		if ok {
			j.noteError(TaskError{Task: task, Peer: from, Reason: reason, At: p.clock.Now()})
		}
		return nil
	})
}

// Release closes a lease the volunteer handed back unfinished (its user
// paused it, or it stopped).
func (p *Publisher) Release(_ context.Context, from peer.ID, ref work.Ref) error {
	j, err := p.job(ref.Job)
	if err != nil {
		return err
	}
	p.log.Info("leaseReleased", "job", j.id, "peer", from)
	return p.update(j, func() error {
		delete(j.progress, ref.Lease)
		return j.coord.Release(p.clock.Now(), ref.Lease, from)
	})
}

// Deliver fetches a delivered image, computes its pixel digest itself and
// hands it to the coordinator, which checks it against the volunteer's
// commitment; the job's verifier takes it from there.
func (p *Publisher) Deliver(ctx context.Context, from peer.ID, d work.Delivery) error {
	j, err := p.job(d.Job)
	if err != nil {
		return err
	}
	fctx, cancel := context.WithTimeout(ctx, fetchResultTimeout)
	defer cancel()
	if _, err := p.cfg.Assets.Get(fctx, d.Result, nil); err != nil {
		return fmt.Errorf("fetching result %s: %w", d.Result, err)
	}
	task, err := j.leaseTask(d.Lease)
	if err != nil {
		return err
	}
	img, err := p.resultImage(j, task, d.Result)
	if err != nil {
		return err
	}
	err = p.update(j, func() error {
		if err := j.coord.Deliver(p.clock.Now(), d.Lease, from, scheduler.Result{CID: d.Result, Digest: credits.Digest(img)}); err != nil {
			return err
		}
		j.claims[d.Lease] = d.CU
		delete(j.progress, d.Lease) // rendered: the frame grid shows it verifying
		return nil
	})
	if err != nil {
		return err
	}
	j.wake()
	return nil
}

// leaseTask finds the task a lease of the job is for.
func (j *pubJob) leaseTask(lease string) (job.Task, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	t, ok := j.coord.LeaseTask(lease)
	if !ok {
		return job.Task{}, fmt.Errorf("unknown lease %s", lease)
	}
	return t, nil
}

// Receipts hands a volunteer the receipts it has not countersigned.
func (p *Publisher) Receipts(_ context.Context, from peer.ID) ([]credits.SignedReceipt, error) {
	return p.cfg.Ledger.PendingFor(from)
}

// Countersign stores a receipt the volunteer countersigned (its signatures
// were verified at the wire edge).
func (p *Publisher) Countersign(_ context.Context, from peer.ID, sr credits.SignedReceipt) error {
	r, err := credits.UnmarshalReceipt(sr.Receipt)
	if err != nil {
		return err
	}
	if r.Volunteer != from || r.Publisher != p.self {
		return fmt.Errorf("receipt %d is not between %s and this node", r.Seq, from)
	}
	return p.cfg.Ledger.RecordCountersigned(sr)
}

// checkResult is the publisher's first look at a delivered image
// (DESIGN.md §5, step 1): it must decode at exactly the expected size. A
// constant image is not refused here, since a fade to black is legitimate:
// credits.DecideImages never accepts one on a single replica.
func checkResult(png []byte, size image.Point) (image.Image, error) {
	return credits.Decode(png, size)
}
