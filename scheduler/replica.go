package scheduler

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/job"
)

// Commit records the volunteer's commitment job.Commit(lease salt, pixel
// digest), sent before its result is revealed, and reports whether it may
// reveal now (Revealed). Repeating the same commitment is harmless; a
// different one is refused with ErrAlreadyCommitted. The first commitment
// of a task starts the clock on the task's other replicas: each must
// commit within twice this one's render time plus MinCommitWait.
func (c *Coordinator) Commit(now time.Time, leaseID string, p peer.ID, commitment job.Commitment) (reveal bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tick(now)
	if c.canceled {
		return false, ErrCanceled
	}
	r, err := c.lookup(leaseID, p)
	if err != nil {
		return false, err
	}
	switch r.state {
	case stLeased:
		c.endRace(now, c.tasks[r.task], r)
		c.notePace(now, r)
		if err := c.adaptiveCoin(now, r); err != nil {
			return false, fmt.Errorf("lease %s: %w", leaseID, err)
		}
		r.commitment, r.state = commitment, stCommitted
		c.unhold(p)
		c.touch(r.task)
		c.firstCommit(c.tasks[r.task], r, now)
		c.revealable(c.tasks[r.task], now)
		return c.reveal(r), nil
	case stCommitted, stDelivered:
		if r.commitment == commitment {
			return c.reveal(r), nil
		}
		return false, fmt.Errorf("lease %s: %w", leaseID, ErrAlreadyCommitted)
	}
	return false, closedError(r)
}

// firstCommit, when r is the first of its task to commit, sets the commit
// deadlines of the task's other leased replicas.
func (c *Coordinator) firstCommit(t *task, r *replica, now time.Time) {
	if t.firstRender > 0 {
		return
	}
	t.firstRender = max(now.Sub(r.Issued), time.Nanosecond)
	for _, o := range t.replicas {
		if o.state == stLeased {
			o.commitBy = c.commitDeadline(t, maxTime(now, o.Issued))
			if !o.commitBy.IsZero() {
				c.watch(o)
			}
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// revealable starts the delivery clock of t's committed replicas once none
// of its replicas is leased any more: each must deliver within
// DeliverWindow (a committed replica that never delivers cannot hold its
// task).
func (c *Coordinator) revealable(t *task, now time.Time) {
	if c.cfg.DeliverWindow < 0 || t.leased() {
		return
	}
	for _, r := range t.replicas {
		if r.state == stCommitted && r.deliverBy.IsZero() {
			r.deliverBy = now.Add(c.cfg.DeliverWindow)
			c.watch(r)
		}
	}
}

// reveal reports whether committed replica r may deliver: every replica of
// its task has committed or lost its lease. Once told so, it stays so.
func (c *Coordinator) reveal(r *replica) bool {
	if r.state == stCommitted && !r.revealed && !c.tasks[r.task].leased() {
		r.revealed = true
		c.touch(r.task)
	}
	return r.revealed || r.state == stDelivered
}

// Revealed reports whether p's committed lease may deliver now: every
// replica of its task has committed or lost its lease. An open, not yet
// committed lease is not revealed; a closed one is an error.
func (c *Coordinator) Revealed(now time.Time, leaseID string, p peer.ID) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tick(now)
	r, err := c.lookup(leaseID, p)
	if err != nil {
		return false, err
	}
	switch r.state {
	case stLeased:
		return false, nil
	case stCommitted, stDelivered:
		return c.reveal(r), nil
	}
	return false, closedError(r)
}

// Committed reports whether an open lease has committed to its result: a
// committed replica waits for its task's other replicas without progress
// to report.
func (c *Coordinator) Committed(leaseID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.leases[leaseID]
	return ok && r.state == stCommitted
}

// CheckDelivery checks, before the publisher reads anything of a result,
// that p holds the lease, has committed, and may reveal; it returns the
// lease (its task, and its crop for a check replica) and gives the lease until now+upload to complete the
// delivery.
func (c *Coordinator) CheckDelivery(now time.Time, leaseID string, p peer.ID, upload time.Duration) (Lease, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tick(now)
	if c.canceled {
		return Lease{}, ErrCanceled
	}
	r, err := c.lookup(leaseID, p)
	if err != nil {
		return Lease{}, err
	}
	switch r.state {
	case stLeased:
		return Lease{}, fmt.Errorf("lease %s: %w", leaseID, ErrNotCommitted)
	case stCommitted:
		if !c.reveal(r) {
			return Lease{}, fmt.Errorf("lease %s: %w", leaseID, ErrNotRevealed)
		}
		if until := now.Add(upload); r.deliverBy.Before(until) {
			r.deliverBy = until
			c.touch(r.task)
		}
		if r.Expires.Before(now.Add(upload)) {
			r.Expires = now.Add(upload)
		}
	case stDelivered:
	default:
		return Lease{}, closedError(r)
	}
	return r.Lease, nil
}

// Deliver records the result of a lease. r.Digest must be the digest the
// publisher computed from the delivered image, never one the volunteer
// claims. A result that does not open the lease's commitment is refused
// with ErrCommitmentMismatch, and the lease is closed as a failure of p and
// requeued. A lease without a commitment is refused with ErrNotCommitted,
// one whose task still waits for another replica's commitment with
// ErrNotRevealed (both stay open). Delivering the same result twice is
// harmless.
func (c *Coordinator) Deliver(now time.Time, leaseID string, p peer.ID, res Result) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tick(now)
	if c.canceled {
		return ErrCanceled
	}
	r, err := c.lookup(leaseID, p)
	if err != nil {
		return err
	}
	switch r.state {
	case stLeased:
		return fmt.Errorf("lease %s: %w", leaseID, ErrNotCommitted)
	case stCommitted:
		if !c.reveal(r) {
			return fmt.Errorf("lease %s: %w", leaseID, ErrNotRevealed)
		}
	case stDelivered:
		if r.result == res {
			return nil
		}
		return closedError(r)
	default:
		return closedError(r)
	}
	if !res.CID.Defined() {
		return fmt.Errorf("lease %s: %w", leaseID, ErrBadResult)
	}
	if !r.commitment.Opens(r.Salt, res.Digest) {
		c.close(now, r, stFailed, failurePoints)
		return fmt.Errorf("lease %s of %s: %w", leaseID, p, ErrCommitmentMismatch)
	}
	t := c.tasks[r.task]
	r.state, r.result = stDelivered, res
	c.deactivate(r, stCommitted)
	c.touch(r.task)
	t.delivered = append(t.delivered, r)
	if len(t.delivered) >= t.want {
		c.pending[r.task] = struct{}{}
	}
	return nil
}

// Fail closes a lease the volunteer gave back because it could not render
// (crash, timeout, bad scene) and requeues the task. It counts as a failure
// of p. The task is never leased to p again. Failures count against the
// task only from established peers: once MaxRenderFailures of them have
// failed it, the task fails. New peers' failures never fail a task by
// themselves; once MaxRenderFailures peers of any standing have, the task
// is a Suspect for the publisher to reproduce.
func (c *Coordinator) Fail(now time.Time, leaseID string, p peer.ID) error {
	st := stFailedNew
	if c.established(p) {
		st = stCrashed
	}
	return c.handBack(now, leaseID, p, st, failurePoints)
}

// Release closes a lease the volunteer gave back voluntarily (its user
// paused or quit) and requeues the task. It counts half a failure, so a peer
// that keeps taking work and giving it back is still blocklisted in the
// end. The task is never leased to p again.
func (c *Coordinator) Release(now time.Time, leaseID string, p peer.ID) error {
	return c.handBack(now, leaseID, p, stReleased, releasePoints)
}

func (c *Coordinator) handBack(now time.Time, leaseID string, p peer.ID, st replicaState, points int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tick(now)
	r, err := c.lookup(leaseID, p)
	if err != nil {
		return err
	}
	if !r.active() {
		return closedError(r)
	}
	c.close(now, r, st, points)
	if trusted, _ := c.tasks[r.task].failures(); st == stCrashed && trusted >= c.cfg.MaxRenderFailures {
		c.finish(r.task, tsFailed)
	}
	return nil
}

// failures counts the task's replicas handed back as failed renders: by
// established peers, and by all.
func (t *task) failures() (trusted, all int) {
	for _, o := range t.replicas {
		switch o.state {
		case stCrashed:
			trusted++
			all++
		case stFailedNew:
			all++
		}
	}
	return trusted, all
}

// Suspects returns the open tasks that MaxRenderFailures peers failed to
// render without enough of them being established to fail the task, and
// that the publisher has not reproduced yet: it should render each itself
// and report with Reproduced.
func (c *Coordinator) Suspects() []job.Task {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sortWatched()
	return c.inOrder(c.suspects)
}

// Reproduced records the publisher's own attempt at a Suspect: failed
// fails the task (and its dependants); otherwise the failures reported so
// far no longer make it a suspect.
func (c *Coordinator) Reproduced(tk job.Task, failed bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.index[tk]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTask, tk)
	}
	if c.tasks[i].status != tsOpen {
		return nil
	}
	if failed {
		c.finish(i, tsFailed)
		return nil
	}
	c.tasks[i].reproduced = true
	c.touch(i)
	return nil
}

// Expire requeues every lease expired by now (its deadline passed: Expires,
// or an earlier commit deadline), counting a failure for each holder, and
// returns the leases that expired since the previous call — including those
// other methods noticed on the way — in work order. Call it periodically;
// the other methods expire leases too, so its timing changes only when the
// caller hears of them.
func (c *Coordinator) Expire(now time.Time) []Lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tick(now)
	out := c.expired
	c.expired = nil
	slices.SortFunc(out, func(a, b Lease) int {
		return cmp.Or(cmp.Compare(c.index[a.Task], c.index[b.Task]), a.Issued.Compare(b.Issued), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// lookup finds an open task's lease held by p.
func (c *Coordinator) lookup(leaseID string, p peer.ID) (*replica, error) {
	r, ok := c.leases[leaseID]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownLease, leaseID)
	}
	if r.Peer != p {
		return nil, fmt.Errorf("lease %s, asked by %s: %w", leaseID, p, ErrWrongPeer)
	}
	return r, nil
}

func closedError(r *replica) error {
	if r.state == stExpired {
		return fmt.Errorf("lease %s expired at %s: %w", r.ID, r.deadline().UTC().Format(time.RFC3339), ErrLeaseExpired)
	}
	return fmt.Errorf("lease %s: %w", r.ID, ErrLeaseClosed)
}
