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
// digest), sent before its result is revealed. Repeating the same
// commitment is harmless; a different one is refused with
// ErrAlreadyCommitted.
func (c *Coordinator) Commit(now time.Time, leaseID string, p peer.ID, commitment job.Commitment) error {
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
		if err := c.adaptiveCoin(r); err != nil {
			return fmt.Errorf("lease %s: %w", leaseID, err)
		}
		r.commitment, r.state = commitment, stCommitted
		return nil
	case stCommitted, stDelivered:
		if r.commitment == commitment {
			return nil
		}
		return fmt.Errorf("lease %s: %w", leaseID, ErrAlreadyCommitted)
	}
	return closedError(r)
}

// Deliver records the result of a lease. r.Digest must be the digest the
// publisher computed from the fetched image, never one the volunteer
// claims. A result that does not open the lease's commitment is refused
// with ErrCommitmentMismatch, and the lease is closed as a failure of p and
// requeued. A lease without a commitment is refused with ErrNotCommitted
// (and stays open). Delivering the same result twice is harmless.
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
		c.close(r, stFailed, failurePoints)
		return fmt.Errorf("lease %s of %s: %w", leaseID, p, ErrCommitmentMismatch)
	}
	t := c.tasks[r.task]
	r.state, r.result = stDelivered, res
	t.active--
	delete(c.active, r)
	t.delivered = append(t.delivered, r)
	if len(t.delivered) >= t.want {
		c.pending[r.task] = struct{}{}
	}
	return nil
}

// Fail closes a lease the volunteer gave back because it could not render
// (crash, timeout, bad scene) and requeues the task. It counts as a failure
// of p. The task is never leased to p again; once MaxRenderFailures peers
// have failed it, the task fails.
func (c *Coordinator) Fail(now time.Time, leaseID string, p peer.ID) error {
	return c.handBack(now, leaseID, p, stCrashed, failurePoints)
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
	c.close(r, st, points)
	if st == stCrashed {
		crashed := 0
		for _, o := range c.tasks[r.task].replicas {
			if o.state == stCrashed {
				crashed++
			}
		}
		if crashed >= c.cfg.MaxRenderFailures {
			c.finish(r.task, tsFailed)
		}
	}
	return nil
}

// Expire requeues every lease expired by now (Expires ≤ now), counting a
// failure for each holder, and returns the leases that expired since the
// previous call — including those other methods noticed on the way — in
// work order. Call it periodically; the other methods expire leases too, so
// its timing changes only when the caller hears of them.
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
		return fmt.Errorf("lease %s expired at %s: %w", r.ID, r.Expires.UTC().Format(time.RFC3339), ErrLeaseExpired)
	}
	return fmt.Errorf("lease %s: %w", r.ID, ErrLeaseClosed)
}
