package publisher

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"net"
	"slices"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/failpoint"
	"github.com/renderswarm/renderswarm/internal/phase"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/p2p"
	"github.com/renderswarm/renderswarm/scheduler"
	"github.com/renderswarm/renderswarm/work"
)

// The publisher answers the work protocol.
var _ work.Server = (*Publisher)(nil)

// stallLimit is how long a lease may be renewed without its work's
// progress growing; after that a renewal is refused and the lease runs
// out. A squatter must at least pretend to work.
const stallLimit = 10 * time.Minute

// Lease hands a volunteer one replica of one task, or tells it when to ask
// again.
func (p *Publisher) Lease(ctx context.Context, from peer.ID, id cid.Cid, renderers map[string]string) (work.LeaseAnswer, error) {
	return p.lease(from, id, renderers, false, work.SpeedOf(ctx))
}

// Backup is Lease for a volunteer that no job had work for: a straggler's
// task to race, when this job has nothing else (scheduler.LeaseBackup).
func (p *Publisher) Backup(ctx context.Context, from peer.ID, id cid.Cid, renderers map[string]string) (work.LeaseAnswer, error) {
	return p.lease(from, id, renderers, true, work.SpeedOf(ctx))
}

// lease leases for Lease and Backup; speed is what the volunteer says its
// speed is (0: nothing said), which the coordinator goes by until it
// knows the volunteer's pace on the job (scheduler.Coordinator.NoteSpeed).
func (p *Publisher) lease(from peer.ID, id cid.Cid, renderers map[string]string, backup bool, speed float64) (work.LeaseAnswer, error) {
	defer phase.Default.Since("publisher.lease", phase.Now())
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
	if speed > 0 {
		j.coord.NoteSpeed(from, speed)
	}
	now := p.clock.Now()
	ok, refund := p.limits.Take(from, now)
	if !ok {
		phase.Default.Observe("publisher.lease.throttled", 0)
		return work.LeaseAnswer{Retry: work.RetryNoWork}, nil
	}
	prefix := p.prefix(from)
	j.mu.Lock()
	lease := j.coord.Lease
	if backup {
		lease = j.coord.LeaseBackup
	}
	l, err := lease(now, from, prefix)
	if err != nil {
		j.mu.Unlock()
	}
	switch {
	case errors.Is(err, scheduler.ErrJobDone):
		return work.LeaseAnswer{Retry: work.RetryDone}, nil
	case errors.Is(err, scheduler.ErrBusy):
		phase.Default.Observe("publisher.lease.busy", 0) // at its cap of uncommitted leases
		return work.LeaseAnswer{Retry: work.RetryNoWork}, nil
	case errors.Is(err, scheduler.ErrNoWork), errors.Is(err, scheduler.ErrPaused):
		phase.Default.Observe("publisher.lease.nowork", 0)
		return work.LeaseAnswer{Retry: j.idle.retry(from, now)}, nil
	case errors.Is(err, scheduler.ErrBlocked):
		return work.LeaseAnswer{Retry: work.RetryBlocked}, nil
	case err != nil:
		return work.LeaseAnswer{}, err
	}
	refund()
	slots := j.coord.Slots(from)
	saved := p.save(j)
	if j.firstLease.IsZero() {
		j.firstLease = now
	}
	j.leased++
	j.progress[l.ID] = progress{since: now}
	j.mu.Unlock()
	if err := p.persist(saved); err != nil {
		return work.LeaseAnswer{}, err
	}
	p.log.Info("leased", "task", l.Task.String(), "peer", from, "check", !l.Crop.Empty(), "backup", backup)
	return work.LeaseAnswer{Grant: &work.Grant{
		Ref: work.Ref{Job: id, Lease: l.ID}, Task: l.Task, Salt: l.Salt, Expires: l.Expires,
		Manifest: j.m, Signed: j.signed, Crop: l.Crop, Slots: slots,
	}}, nil
}

// prefix is the network prefix replicas are spread across, from the
// address the volunteer's connection was observed on: the /16 of a public
// IPv4 peer, the /32 of a public IPv6 one. A peer reached through a relay
// has none (the relay's address is not the peer's, and a peer's claims
// about its own are free), nor has one on a LAN or loopback, where every
// peer shares one.
func (p *Publisher) prefix(id peer.ID) string {
	for _, a := range p.cfg.Net.RemoteAddrs(id) {
		if _, err := a.ValueForProtocol(ma.P_CIRCUIT); err == nil {
			continue // relayed
		}
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

// Renew is a volunteer's heartbeat on a lease, with its work's progress.
// A lease whose progress has not grown for stallLimit is not renewed.
// Renewals are soft state and not persisted: after a restart, the
// coordinator extends live leases by the downtime.
func (p *Publisher) Renew(_ context.Context, from peer.ID, ref work.Ref, done float64) (time.Time, error) {
	j, err := p.job(ref.Job)
	if err != nil {
		return time.Time{}, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	now := p.clock.Now()
	pr, ok := j.progress[ref.Lease]
	if !ok {
		pr = progress{since: now} // leased before a restart
	}
	switch {
	case done > pr.done:
		pr = progress{done: done, since: now}
	case j.coord.Committed(ref.Lease):
		// Rendered; waiting for the task's other replicas.
	case now.Sub(pr.since) > stallLimit:
		return time.Time{}, fmt.Errorf("lease %s: no progress for %v", ref.Lease, now.Sub(pr.since).Round(time.Second))
	}
	exp, err := j.coord.Renew(now, ref.Lease, from)
	if err != nil {
		return time.Time{}, err
	}
	j.coord.Report(now, ref.Lease, from, done)
	j.progress[ref.Lease] = pr
	return exp, nil
}

// Commit records a volunteer's commitment to its result and says whether
// to deliver it now.
func (p *Publisher) Commit(_ context.Context, from peer.ID, ref work.Ref, c job.Commitment) (reveal bool, err error) {
	defer phase.Default.Since("publisher.commit", phase.Now())
	j, err := p.job(ref.Job)
	if err != nil {
		return false, err
	}
	err = p.update(j, func() error {
		reveal, err = j.coord.Commit(p.clock.Now(), ref.Lease, from, c)
		return err
	})
	return reveal, err
}

// Await answers, within work.AwaitLimit, whether the volunteer's committed
// lease may deliver: once every replica of its task has committed or lost
// its lease.
func (p *Publisher) Await(ctx context.Context, from peer.ID, ref work.Ref) (bool, error) {
	j, err := p.job(ref.Job)
	if err != nil {
		return false, err
	}
	limit := p.clock.NewTimer(work.AwaitLimit)
	defer limit.Stop()
	for {
		j.mu.Lock()
		ok, err := j.coord.Revealed(p.clock.Now(), ref.Lease, from)
		changed := j.changed
		j.mu.Unlock()
		if ok || err != nil {
			return ok, err
		}
		select {
		case <-changed:
		case <-limit.C():
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// Fail closes a lease whose render failed and keeps the renderer's last
// words for the job's status.
func (p *Publisher) Fail(_ context.Context, from peer.ID, ref work.Ref, reason string) error {
	j, err := p.job(ref.Job)
	if err != nil {
		return err
	}
	p.log.Info("renderFailed", "job", j.id, "peer", from, "reason", reason)
	err = p.update(j, func() error {
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
	j.wake() // the task may now be a suspect to reproduce
	return err
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

// Deliver takes a revealed result. Before a byte of it is read, the lease,
// its holder and its commitment are checked and its size is bounded by its
// tile; then the publisher decodes it at the tile's size, computes its
// pixel digest itself and hands it to the coordinator, which checks it
// against the commitment. The job's verifier takes it from there.
func (p *Publisher) Deliver(_ context.Context, from peer.ID, d work.Delivery, body work.Body) error {
	j, err := p.job(d.Job)
	if err != nil {
		return err
	}
	j.mu.Lock()
	l, err := j.coord.CheckDelivery(p.clock.Now(), d.Lease, from, p2p.BodyTime(body.Size()))
	j.mu.Unlock()
	if err != nil {
		return err
	}
	task := l.Task
	bound := deliveryBound(j.m, task)
	if n := body.Size(); n <= 0 || n > bound {
		return fmt.Errorf("result of %d bytes: the delivery of %s is at most %d", n, task, bound)
	}
	r, err := body.Open()
	if err != nil {
		return err
	}
	data := make([]byte, body.Size())
	start := phase.Now()
	if _, err := io.ReadFull(r, data); err != nil {
		return fmt.Errorf("reading result of %s: %w", task, err)
	}
	start = lap("publisher.deliver.read", start)
	var extras map[string][]byte
	if l.Crop.Empty() { // a check replica delivers its crop's PNG alone
		if data, extras, err = openDelivery(j.m, task, data); err != nil {
			return fmt.Errorf("result of %s: %w", task, err)
		}
	}
	img, err := checkResult(data, resultSize(j.m, l.Task, l.Crop))
	if err != nil {
		return fmt.Errorf("result of %s: %w", task, err)
	}
	digest := job.ResultDigest(credits.Digest(img), extras)
	start = lap("publisher.deliver.decode", start)
	c, err := p.keep(j, d.Lease, task, data, extras)
	if err != nil {
		return fmt.Errorf("keeping result of %s: %w", task, err)
	}
	start = lap("publisher.deliver.keep", start)
	defer lap("publisher.deliver.record", start)
	claim := min(d.CU, credits.MaxMilliCU) // capped when paid: the price may come later
	// Held for the verifier, which may see the delivery as soon as the
	// update below is done.
	p.decoded.put(decodedKey{j.id, d.Lease}, img)
	err = p.update(j, func() error {
		if err := j.coord.Deliver(p.clock.Now(), d.Lease, from, scheduler.Result{CID: c, Digest: digest}); err != nil {
			return err
		}
		j.unsaved = append(j.unsaved, claimRow{task: task.String(), peer: from.String(), cu: claim})
		if j.claims[task] == nil {
			j.claims[task] = map[peer.ID]int64{}
		}
		j.claims[task][from] = claim
		delete(j.progress, d.Lease) // rendered: the frame grid shows it verifying
		return nil
	})
	if err != nil {
		p.forget(j, task, d.Lease)
		return err
	}
	j.wake()
	return nil
}

// Receipts hands a volunteer the receipts it has not countersigned.
func (p *Publisher) Receipts(_ context.Context, from peer.ID) ([]credits.SignedReceipt, error) {
	return p.cfg.Ledger.PendingFor(from)
}

// Countersign stores receipts the volunteer countersigned (their
// signatures were verified at the wire edge), in one transaction. A
// receipt this ledger lost, or holds differently after a restore from an
// older copy, is adopted: the volunteer's copy carries this node's own
// signature. The error names the first receipt not recorded; those stay
// pending, and the volunteer is asked for them again.
func (p *Publisher) Countersign(_ context.Context, from peer.ID, srs ...credits.SignedReceipt) error {
	rs := make([]credits.Receipt, len(srs))
	for i, sr := range srs {
		r, err := credits.UnmarshalReceipt(sr.Receipt)
		if err != nil {
			return err
		}
		if r.Volunteer != from || r.Publisher != p.self {
			return fmt.Errorf("receipt %d is not between %s and this node", r.Seq, from)
		}
		rs[i] = r
	}
	errs := p.cfg.Ledger.RecordCountersignedAll(srs)
	if slices.Contains(errs, nil) {
		failpoint.Hit(failpoint.CountersignRecorded)
	}
	var first error
	for i, err := range errs {
		if errors.Is(err, credits.ErrChainConflict) || errors.Is(err, credits.ErrUnknownReceipt) {
			n, aerr := p.cfg.Ledger.Adopt(p.clock.Now(), p.cfg.Key, srs[i])
			if aerr == nil {
				p.log.Warn("receiptAdopted", "peer", from, "seq", rs[i].Seq, "reissued", n)
			}
			err = aerr
		}
		first = cmp.Or(first, err)
	}
	return first
}

// checkResult is the publisher's first look at a delivered image
// (DESIGN.md §5, step 1): it must decode at exactly the expected size. A
// constant image is not refused here, since a fade to black is legitimate:
// credits.DecideImages never accepts one on a single replica.
func checkResult(png []byte, size image.Point) (image.Image, error) {
	return credits.Decode(png, size)
}

// lap records the time since start as one duration of phase name and
// returns now, the start of the next.
func lap(name string, start phase.Mark) phase.Mark { return phase.Default.Lap(name, start) }
