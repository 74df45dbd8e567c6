package publisher

import (
	"context"
	"crypto/rand"
	"errors"
	"image"
	"math/big"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/failpoint"
	"github.com/renderswarm/renderswarm/internal/phase"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/scheduler"
)

// Verification of a job, from delivered results to receipts (DESIGN.md
// §5, §6), in the order it happens:
//
//  1. Deliver (server.go) took each result only once every replica of its
//     task had committed, decoded it at its tile's size and let the
//     coordinator check the publisher's own pixel digest against the
//     volunteer's commitment, then woke the job's verifier.
//  2. The verifier takes every task whose wanted replicas are all in
//     (Coordinator.Pending), compares the images under the job's profile
//     and applies the quorum rule (credits.DecideImages).
//  3. A result that is not replicated came with a check replica: another
//     peer's render of a crop of it, chosen after it committed
//     (decideChecked). The crop must match the same pixels of the result;
//     if it does not, the publisher renders the crop itself and refutes
//     whichever differs from its render.
//     An accepted result is crop-checked by the publisher itself when one
//     of its peers is new, when two of them have met before on a task (a
//     pair that keeps meeting), when nobody took its check replica in time,
//     or, if no check replica matched it, at random: the publisher renders
//     a random crop, chosen only now. A mismatch refutes the agreeing
//     results. A check that cannot run never accepts: without an
//     established peer among the agreeing ones, the task gets another
//     replica from one.
//  4. The decision is applied (Coordinator.Resolve) and persisted; losers
//     of a 2-of-3 and refuted peers get a strike in the ledger (probation
//     at this publisher, for every job); the peers that met are noted;
//     the accepted result is queued for sharing, pinned (share.go).
//  5. Every accepted, uncredited task gets a receipt per agreeing peer:
//     its capped claim, at most the job's median claim; a check replica's
//     at most its crop's share of that (payCheck).
//
// Tasks that new peers report failing are rendered here before they may
// fail (reproduce). There is one verifier per job (verifier.go). It hands
// each pending task to one of verifiers(m) workers as soon as one is
// free, never a task another worker holds, so each is decided exactly
// once; a slow task (a crop render waiting its turn) holds back no other.

// verifyTask decides one task whose replicas are all in. It reports false
// when the task could not be decided now and should be tried again.
func (p *Publisher) verifyTask(ctx context.Context, j *pubJob, tr scheduler.TaskResults, prof credits.Profile) bool {
	start := phase.Now()
	imgs, ok := p.images(j, tr)
	if !ok {
		return true // unreadable results were dropped; the task wants others
	}
	start = lap("publisher.verify.decode", start)
	d, err := p.decide(ctx, j, tr, imgs, prof)
	start = lap("publisher.verify.decide", start)
	if err != nil {
		p.log.Warn("verifyFailed", "task", tr.Task.String(), "err", err)
		return false
	}
	if d.Verdict == job.Waiting {
		return true
	}
	if err := p.resolve(ctx, j, tr, d); err != nil {
		p.log.Warn("resolveFailed", "task", tr.Task.String(), "err", err)
		return false
	}
	lap("publisher.verify.resolve", start)
	p.log.Info("taskDecided", "task", tr.Task.String(), "verdict", d.Verdict.String(), "results", len(tr.Results))
	return true
}

// images decodes a pending task's results. A result that cannot be read
// (its file lost in a crash) is dropped — nobody is charged, and the task
// wants another replica in its place — and ok is false.
func (p *Publisher) images(j *pubJob, tr scheduler.TaskResults) (imgs []image.Image, ok bool) {
	ok = true
	for _, d := range tr.Results {
		img, err := p.pendingImage(j, d, tr.Task)
		if err == nil {
			imgs = append(imgs, img)
			continue
		}
		p.log.Warn("resultUnreadable", "task", tr.Task.String(), "peer", d.Peer, "err", err)
		if err := p.update(j, func() error { return j.coord.Reject(tr.Task, d.Lease) }); err != nil {
			p.log.Error("resultNotDropped", "task", tr.Task.String(), "err", err)
		}
		p.forget(j, tr.Task, d.Lease)
		ok = false
	}
	return imgs, ok
}

// decide compares a task's results and, for an accepted one, crop-checks
// it when a check is due.
func (p *Publisher) decide(ctx context.Context, j *pubJob, tr scheduler.TaskResults, imgs []image.Image, prof credits.Profile) (job.Decision, error) {
	whole, checks := splitChecks(tr)
	if len(checks) > 0 {
		return p.decideChecked(ctx, j, tr, imgs, prof, whole, checks)
	}
	d, cmp, err := credits.DecideImages(prof, imgs, tr.Quorum, tr.MaxResults)
	switch {
	case err != nil:
		return d, err
	case d.Verdict == job.NeedReplica || d.Verdict == job.GiveUp:
		return p.arbitrate(ctx, j, tr, imgs, cmp, prof, d)
	case d.Verdict != job.Accept:
		return d, nil
	}
	return p.confirm(ctx, j, tr, imgs, prof, d, false)
}

// confirm crop-checks an accepted result itself when a check is due: one
// of its peers is new, two of them met before, nobody else took its check
// replica (SelfCheck), or at random unless another peer's crop checked it
// already.
func (p *Publisher) confirm(ctx context.Context, j *pubJob, tr scheduler.TaskResults, imgs []image.Image, prof credits.Profile, d job.Decision, checked bool) (job.Decision, error) {
	var agreeing []peer.ID
	for _, a := range d.Agreeing {
		agreeing = append(agreeing, tr.Results[a].Peer)
	}
	if due := p.checkDue(agreeing, !checked); !due && !tr.SelfCheck {
		return d, nil
	}
	err := p.cropCheck(ctx, j, tr.Task, imgs[d.Canonical], prof)
	switch {
	case err == nil:
		return d, nil
	case errors.Is(err, errRefuted):
		p.log.Warn("resultsRefuted", "task", tr.Task.String(), "err", err)
		return job.Decision{Verdict: job.Refute, Canonical: -1, Agreeing: d.Agreeing}, nil
	case ctx.Err() != nil:
		return job.Decision{}, ctx.Err()
	}
	// The check could not run: never accept on agreement alone unless an
	// established peer is among the agreeing ones.
	p.log.Warn("cropCheckNotRendered", "task", tr.Task.String(), "err", err)
	for _, v := range agreeing {
		if !p.standing.of(v).New() {
			return d, nil
		}
	}
	if len(tr.Results) >= tr.MaxResults {
		return job.Decision{Verdict: job.GiveUp, Canonical: -1}, nil
	}
	return job.Decision{Verdict: job.NeedReplica, Canonical: -1, Established: true}, nil
}

// splitChecks returns the indices of a task's results of the whole task
// and those of check replicas (crops), in delivery order.
func splitChecks(tr scheduler.TaskResults) (whole, checks []int) {
	for i, r := range tr.Results {
		if r.Crop.Empty() {
			whole = append(whole, i)
		} else {
			checks = append(checks, i)
		}
	}
	return whole, checks
}

// decideChecked decides a task some of whose results are check replicas:
// crops of the task other peers rendered to check a result. The results of
// the whole task decide among themselves first (two of them must agree);
// then every crop must match the same pixels of the accepted one. When a
// crop does not, the publisher renders that crop itself: whichever differs
// from its render is refuted (the checked result, or the check, or both).
// If it cannot render, the task gets a replica of the whole task from an
// established peer.
func (p *Publisher) decideChecked(ctx context.Context, j *pubJob, tr scheduler.TaskResults, imgs []image.Image, prof credits.Profile, whole, checks []int) (job.Decision, error) {
	if len(whole) == 0 {
		return job.Decision{Verdict: job.NeedReplica, Canonical: -1}, nil // only checks left: render the task again
	}
	sub := scheduler.TaskResults{Task: tr.Task, MaxResults: max(1, tr.MaxResults-len(checks))}
	sub.Quorum = max(1, tr.Quorum-len(checks))
	if len(whole) > 1 {
		sub.Quorum = max(sub.Quorum, 2)
	}
	var subImgs []image.Image
	for _, i := range whole {
		sub.Results = append(sub.Results, tr.Results[i])
		subImgs = append(subImgs, imgs[i])
	}
	d, cmp, err := credits.DecideImages(prof, subImgs, sub.Quorum, sub.MaxResults)
	if err != nil {
		return d, err
	}
	if d.Verdict == job.NeedReplica || d.Verdict == job.GiveUp {
		if d, err = p.arbitrate(ctx, j, sub, subImgs, cmp, prof, d); err != nil {
			return d, err
		}
	}
	d = mapDecision(d, whole)
	if d.Verdict != job.Accept {
		return d, nil
	}
	tile := j.m.TileRect(tr.Task.Tile)
	var wrong []int
	for _, k := range checks {
		c, err := compareCrop(prof, imgs[k], imgs[d.Canonical], tile, tr.Results[k].Crop)
		if err != nil {
			return job.Decision{}, err
		}
		if !c.Match {
			wrong = append(wrong, k)
			continue
		}
		d.Agreeing = append(d.Agreeing, k)
	}
	if len(wrong) == 0 {
		p.log.Info("resultChecked", "task", tr.Task.String(), "checks", len(checks))
		return p.confirm(ctx, j, tr, imgs, prof, d, true)
	}
	// A check disagrees: the publisher's own render of its crop settles it.
	crop := tr.Results[wrong[0]].Crop
	mine, err := p.renderCrop(ctx, j, tr.Task, crop)
	if err != nil {
		if ctx.Err() != nil {
			return job.Decision{}, ctx.Err()
		}
		p.log.Warn("checkNotArbitrated", "task", tr.Task.String(), "err", err)
		if len(tr.Results) >= tr.MaxResults {
			return job.Decision{Verdict: job.GiveUp, Canonical: -1}, nil
		}
		return job.Decision{Verdict: job.NeedReplica, Canonical: -1, Established: true}, nil
	}
	var refuted []int
	if c, err := compareCrop(prof, mine, imgs[d.Canonical], tile, crop); err != nil || !c.Match {
		for _, a := range d.Agreeing {
			if tr.Results[a].Crop.Empty() {
				refuted = append(refuted, a)
			}
		}
	}
	for _, k := range wrong {
		if c, err := credits.Compare(prof, mine, imgs[k]); err != nil || !c.Match {
			refuted = append(refuted, k)
		}
	}
	p.log.Info("checkArbitrated", "task", tr.Task.String(), "refuted", len(refuted))
	if len(refuted) == 0 { // the publisher's render matches both: they differ within the profile's slack
		d.Agreeing = append(d.Agreeing, wrong...)
		return d, nil
	}
	return job.Decision{Verdict: job.Refute, Canonical: -1, Agreeing: refuted}, nil
}

// wholeOf returns those of the results at indices that rendered the whole
// task.
func wholeOf(tr scheduler.TaskResults, indices []int) []int {
	var out []int
	for _, i := range indices {
		if tr.Results[i].Crop.Empty() {
			out = append(out, i)
		}
	}
	return out
}

// mapDecision maps the indices of a decision over some of a task's
// results (those at the indices in of) to indices over all of them.
func mapDecision(d job.Decision, of []int) job.Decision {
	m := func(xs []int) []int {
		var out []int
		for _, x := range xs {
			out = append(out, of[x])
		}
		return out
	}
	if d.Canonical >= 0 {
		d.Canonical = of[d.Canonical]
	}
	d.Agreeing, d.Losers = m(d.Agreeing), m(d.Losers)
	return d
}

// pairMeetings is how many tasks two peers may decide together before
// every task they share is crop-checked.
const pairMeetings = 1

// checkDue reports whether an accepted result of the agreeing peers is to
// be crop-checked: one of them is new, two of them have met before, or,
// when random is set, at random (cropShare).
// Every pair among them counts one more meeting at once, so that tasks
// verified in parallel cannot hide a pair's meetings from each other.
func (p *Publisher) checkDue(agreeing []peer.ID, random bool) bool {
	due := p.pairs.meet(agreeing) >= pairMeetings
	for _, a := range agreeing {
		due = due || p.standing.of(a).New()
	}
	return due || random && chance(cropShare)
}

// resolve applies a decision, records what it says of the peers, shares
// an accepted result and prices its claims.
func (p *Publisher) resolve(ctx context.Context, j *pubJob, tr scheduler.TaskResults, d job.Decision) error {
	var shared shareItem
	if d.Verdict == job.Accept {
		p.compareExtras(j, tr, wholeOf(tr, d.Agreeing))
		canonical := tr.Results[d.Canonical]
		shared = shareItem{j: j, lease: canonical.Lease, task: tr.Task, cid: canonical.Result.CID}
		// Readable where it waits from the moment it is accepted. Should
		// the decision fail, the entry points at an undecided result,
		// which no accepted task names.
		p.expectShare(shared)
	}
	err := p.update(j, func() error {
		if err := j.coord.Resolve(tr.Task, d); err != nil {
			return err
		}
		if d.Verdict == job.Accept {
			for _, i := range wholeOf(tr, d.Agreeing) { // a crop's claim is no measure of the task
				j.costs.Pay(j.claims[tr.Task][tr.Results[i].Peer])
			}
			j.unsaved = append(j.unsaved, meetings(peersOf(tr))...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	now := p.clock.Now()
	strike := func(indices []int, kind credits.Strike) {
		for _, i := range indices {
			v := tr.Results[i].Peer
			if err := p.cfg.Ledger.Strike(now, v, tr.Task, kind); err != nil {
				p.log.Error("strikeNotRecorded", "task", tr.Task.String(), "err", err)
			}
			p.standing.struck(v)
			p.reopen(v)
		}
	}
	switch d.Verdict {
	case job.Accept:
		strike(d.Losers, credits.LostVote)
		for _, r := range tr.Results {
			if r.Lease != shared.lease {
				p.forget(j, tr.Task, r.Lease)
			}
		}
		p.queueShare(shared)
	case job.Refute:
		strike(d.Agreeing, credits.Refuted)
		for _, i := range d.Agreeing {
			p.forget(j, tr.Task, tr.Results[i].Lease)
		}
	case job.GiveUp:
		for _, r := range tr.Results {
			p.forget(j, tr.Task, r.Lease)
		}
	}
	return nil
}

// peersOf lists the peers of a task's results.
func peersOf(tr scheduler.TaskResults) []peer.ID {
	var peers []peer.ID
	for _, r := range tr.Results {
		peers = append(peers, r.Peer)
	}
	return peers
}

// reopen takes back, in every running job, the results a peer just
// caught cheating had accepted alone (scheduler.Coordinator.Reopen): they
// are rendered again by others.
func (p *Publisher) reopen(v peer.ID) {
	for _, j := range p.list() {
		j.mu.Lock()
		tasks := j.coord.Reopen(p.clock.Now(), v)
		if len(tasks) == 0 {
			j.mu.Unlock()
			continue
		}
		saved := p.save(j)
		j.notify()
		j.mu.Unlock()
		if err := p.persist(saved); err != nil {
			p.log.Error("jobNotSaved", "job", j.id, "err", err)
		}
		p.log.Warn("resultsReopened", "job", j.id, "peer", v, "tasks", len(tasks))
	}
}

// credit issues a receipt to every peer whose result agreed with an
// accepted one and marks the task credited: every receipt of a pass in one
// database transaction. The ledger refuses a second receipt for the same
// task and volunteer, so after a crash between the two steps crediting
// again issues nothing twice. It reports false when the receipts could not
// be issued (to be tried again).
func (p *Publisher) credit(j *pubJob) bool {
	defer phase.Default.Since("publisher.credit", phase.Now())
	j.mu.Lock()
	var tasks []job.Task
	var pays []credits.Payment
	for _, t := range j.coord.Uncredited() {
		res, peers, accepted := j.coord.Accepted(t)
		if !accepted {
			continue
		}
		tasks = append(tasks, t)
		crop, checkers := j.coord.Checked(t)
		for _, v := range peers {
			if v == p.self {
				continue
			}
			cu := j.pay(j.claims[t][v])
			if slices.Contains(checkers, v) {
				cu = j.payCheck(j.claims[t][v], crop, j.m.TileRect(t.Tile))
			}
			pays = append(pays, credits.Payment{Volunteer: v, Task: t, Result: res.CID, CU: cu})
		}
	}
	if len(tasks) == 0 {
		j.mu.Unlock()
		return true
	}
	errs, err := p.cfg.Ledger.IssueAll(p.clock.Now(), p.cfg.Key, pays)
	if err != nil {
		j.mu.Unlock()
		p.log.Error("receiptsNotIssued", "job", j.id, "receipts", len(pays), "err", err)
		return false
	}
	for i, pay := range pays {
		if errs[i] == nil {
			p.standing.credited(pay.Volunteer, pay.Task.Job.String())
		}
	}
	failpoint.Hit(failpoint.ReceiptIssued)
	for _, t := range tasks {
		j.coord.MarkCredited(t)
		delete(j.claims, t) // paid: a job of 100,000 tasks would hold them all
	}
	saved := p.save(j)
	j.mu.Unlock()
	if err := p.persist(saved); err != nil {
		p.log.Error("jobNotSaved", "job", j.id, "err", err)
	}
	failpoint.Hit(failpoint.TaskCredited)
	return true
}

// chance reports true with probability p.
func chance(p float64) bool {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	return err == nil && float64(n.Int64()) < p*1_000_000
}

// between returns a uniform integer in [0, n].
func between(n int) int {
	if n <= 0 {
		return 0
	}
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)+1))
	if err != nil {
		return 0
	}
	return int(v.Int64())
}
