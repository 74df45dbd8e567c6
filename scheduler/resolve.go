package scheduler

import (
	"fmt"
	"image"
	"maps"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/job"
)

// TaskResults is a task whose wanted replicas have all been delivered:
// compare them (credits.Decide with Quorum and MaxResults) and call
// Resolve.
type TaskResults struct {
	Task       job.Task
	Quorum     int // agreeing results needed to accept
	MaxResults int // results the task may collect before it is given up
	Results    []Delivery
	// SelfCheck: nobody took the task's check replica in time; the
	// publisher checks the result itself before accepting it.
	SelfCheck bool
}

// Delivery is one delivered replica, in delivery order.
type Delivery struct {
	Lease  string
	Peer   peer.ID
	Result Result
	Crop   image.Rectangle // a check replica's crop; empty for the whole task
}

// Pending returns the tasks waiting for a decision, in work order (none
// once the job is canceled).
func (c *Coordinator) Pending() []TaskResults {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.canceled {
		return nil
	}
	idx := make([]int, 0, len(c.pending))
	for i := range c.pending {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	out := make([]TaskResults, 0, len(idx))
	for _, i := range idx {
		t := c.tasks[i]
		tr := TaskResults{Task: t.t, Quorum: t.quorum, MaxResults: c.maxResults(t), SelfCheck: t.selfCheck}
		for _, r := range t.delivered {
			tr.Results = append(tr.Results, Delivery{Lease: r.ID, Peer: r.Peer, Result: r.result, Crop: r.Crop})
		}
		out = append(out, tr)
	}
	return out
}

// Resolve applies the caller's decision on a pending task. NeedReplica on a
// task that already has MaxResults results fails it, like GiveUp. A failed
// task fails every task that depends on it.
func (c *Coordinator) Resolve(tk job.Task, d job.Decision) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.canceled {
		return ErrCanceled
	}
	i, ok := c.index[tk]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTask, tk)
	}
	if _, ok := c.pending[i]; !ok {
		return fmt.Errorf("%w: %s", ErrNotPending, tk)
	}
	t := c.tasks[i]
	n := len(t.delivered)
	c.touch(i)
	switch d.Verdict {
	case job.Accept:
		if err := checkAccept(d, n, t.quorum); err != nil {
			return fmt.Errorf("%w for %s: %v", ErrBadDecision, tk, err)
		}
		if !t.delivered[d.Canonical].Crop.Empty() {
			return fmt.Errorf("%w for %s: canonical result %d is a check replica's crop", ErrBadDecision, tk, d.Canonical)
		}
		for _, l := range d.Losers {
			c.charge(t.delivered[l].Peer, failurePoints)
		}
		agreeing := slices.Clone(d.Agreeing)
		slices.Sort(agreeing)
		t.agreeing = make([]peer.ID, len(agreeing))
		t.checkers = nil
		for k, a := range agreeing {
			t.agreeing[k] = t.delivered[a].Peer
			if !t.delivered[a].Crop.Empty() {
				t.checkers = append(t.checkers, t.delivered[a].Peer)
			}
		}
		t.result = t.delivered[d.Canonical].result
		c.finish(i, tsAccepted)
	case job.NeedReplica:
		if n >= c.maxResults(t) {
			c.finish(i, tsFailed)
			return nil
		}
		delete(c.pending, i)
		t.want = n + 1
		t.quorum = max(t.quorum, 2)
		t.needEstablished = t.needEstablished || d.Established
		c.low = min(c.low, i)
	case job.GiveUp:
		c.finish(i, tsFailed)
	case job.Refute:
		refuted := make([]bool, n)
		for _, a := range d.Agreeing {
			if a < 0 || a >= n || refuted[a] {
				return fmt.Errorf("%w for %s: refuted index %d out of range or repeated", ErrBadDecision, tk, a)
			}
			refuted[a] = true
		}
		if len(d.Agreeing) == 0 {
			return fmt.Errorf("%w for %s: refute names no results", ErrBadDecision, tk)
		}
		var kept []*replica
		for k, r := range t.delivered {
			if refuted[k] {
				t.refutes++
				c.charge(r.Peer, failurePoints)
				r.state = stFailed
			} else {
				kept = append(kept, r)
			}
		}
		t.delivered = kept
		delete(c.pending, i)
		if d.Consistent {
			t.consistentRefutes++
		}
		if t.consistentRefutes >= maxConsistentRefutes || t.refutes >= maxRefutes*c.cfg.MaxResults {
			c.finish(i, tsFailed)
			return nil
		}
		t.want = t.active + len(kept) + max(t.quorum-len(kept), 1)
		c.low = min(c.low, i)
	default:
		return fmt.Errorf("%w for %s: unknown verdict %d", ErrBadDecision, tk, int(d.Verdict))
	}
	return nil
}

// A task fails when, maxConsistentRefutes times, the publisher's own
// render disproved results that agreed with each other (its scene renders
// the same on other machines, differently on the publisher's), or, as a
// bound on the work spent on it, once it disproved maxRefutes·MaxResults
// results. Junk, each cheater's its own, cannot fail it sooner.
const (
	maxConsistentRefutes = 2
	maxRefutes           = 3
)

// checkAccept checks an Accept decision over n results with the given
// quorum.
func checkAccept(d job.Decision, n, quorum int) error {
	seen := make([]bool, n)
	for _, a := range d.Agreeing {
		if a < 0 || a >= n || seen[a] {
			return fmt.Errorf("agreeing index %d out of range or repeated", a)
		}
		seen[a] = true
	}
	if d.Canonical < 0 || d.Canonical >= n || !seen[d.Canonical] {
		return fmt.Errorf("canonical index %d is not among the agreeing results", d.Canonical)
	}
	if len(d.Agreeing) < quorum {
		return fmt.Errorf("%d agreeing results, quorum is %d", len(d.Agreeing), quorum)
	}
	for _, l := range d.Losers {
		if l < 0 || l >= n || seen[l] {
			return fmt.Errorf("loser index %d out of range, repeated or agreeing", l)
		}
		seen[l] = true
	}
	if len(d.Losers) > 0 && 2*len(d.Agreeing) <= n {
		return fmt.Errorf("losers without a majority: %d of %d results agree", len(d.Agreeing), n)
	}
	return nil
}

// finish makes task i terminal, drops its replicas, and fails its
// dependents when it failed.
func (c *Coordinator) finish(i int, st taskStatus) {
	t := c.tasks[i]
	if t.status != tsOpen {
		return
	}
	c.touch(i)
	t.status = st
	delete(c.pending, i)
	for _, r := range t.replicas {
		delete(c.leases, r.ID)
		c.deactivate(r, r.state)
	}
	t.replicas, t.delivered, t.active = nil, nil, 0
	if st == tsAccepted {
		c.accepted++
		return
	}
	c.failed++
	for _, d := range t.dependents {
		c.finish(d, tsFailed)
	}
}

// Accepted returns a task's accepted result and the peers whose results
// agreed with it (to be credited), sorted in delivery order.
func (c *Coordinator) Accepted(tk job.Task) (Result, []peer.ID, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.index[tk]
	if !ok || c.tasks[i].status != tsAccepted {
		return Result{}, nil, false
	}
	t := c.tasks[i]
	return t.result, slices.Clone(t.agreeing), true
}

// Checked returns, for an accepted task, the crop its check replicas
// rendered and those of its agreeing peers that rendered only that crop
// (none when the task had no check replica). Of a task split in parts
// (Config.Split), crop is the first part: each checker rendered one of
// them, all of a size to a row of pixels.
func (c *Coordinator) Checked(tk job.Task) (crop image.Rectangle, checkers []peer.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.index[tk]
	if !ok || c.tasks[i].status != tsAccepted || len(c.tasks[i].checkers) == 0 {
		return image.Rectangle{}, nil
	}
	t := c.tasks[i]
	if len(t.parts) > 0 {
		return t.parts[0], slices.Clone(t.checkers) // the parts are of one size, to a row of pixels
	}
	return t.crop, slices.Clone(t.checkers)
}

// MarkCredited records that the receipts for an accepted task were issued,
// so they are not issued again after a restart.
func (c *Coordinator) MarkCredited(tk job.Task) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.index[tk]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTask, tk)
	}
	if c.tasks[i].status != tsAccepted {
		return fmt.Errorf("%w: %s", ErrNotAccepted, tk)
	}
	c.tasks[i].credited = true
	c.touch(i)
	return nil
}

// Credited reports whether MarkCredited was called for the task.
func (c *Coordinator) Credited(tk job.Task) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.index[tk]
	return ok && c.tasks[i].credited
}

// Uncredited returns the accepted tasks not yet marked credited, in work
// order: after a restart, the receipts still to issue.
func (c *Coordinator) Uncredited() []job.Task {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sortWatched()
	return c.inOrder(c.uncredited)
}

// sortWatched files the tasks touched since the last call (every task,
// the first time) under uncredited and suspects.
func (c *Coordinator) sortWatched() {
	file := func(i int) {
		t := c.tasks[i]
		_, all := t.failures()
		fileIf(c.uncredited, i, t.status == tsAccepted && !t.credited)
		fileIf(c.suspects, i, t.status == tsOpen && !t.reproduced && all >= c.cfg.MaxRenderFailures)
		g := t.gridState()
		c.busy += g.busy() - c.grid[i].busy()
		c.grid[i] = g
	}
	if c.rescan {
		for i := range c.tasks {
			file(i)
		}
		c.rescan = false
	} else {
		for i := range c.watched {
			file(i)
		}
	}
	clear(c.watched)
}

// fileIf puts task i in set when in is true, and takes it out otherwise.
func fileIf(set map[int]struct{}, i int, in bool) {
	if in {
		set[i] = struct{}{}
	} else {
		delete(set, i)
	}
}

// inOrder returns the tasks of set in work order.
func (c *Coordinator) inOrder(set map[int]struct{}) []job.Task {
	if len(set) == 0 {
		return nil
	}
	out := make([]job.Task, 0, len(set))
	for _, i := range slices.Sorted(maps.Keys(set)) {
		out = append(out, c.tasks[i].t)
	}
	return out
}

// Reject drops a delivered result the publisher cannot use (its file is
// gone or unreadable after a crash): the replica is closed without
// charging its peer, and the task wants another in its place.
func (c *Coordinator) Reject(tk job.Task, leaseID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.index[tk]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTask, tk)
	}
	t := c.tasks[i]
	k := slices.IndexFunc(t.delivered, func(r *replica) bool { return r.ID == leaseID })
	if k < 0 {
		return fmt.Errorf("%w %q: not a delivered result of %s", ErrUnknownLease, leaseID, tk)
	}
	t.delivered[k].state = stFailed
	t.delivered = slices.Delete(t.delivered, k, k+1)
	c.touch(i)
	if len(t.delivered) < t.want {
		delete(c.pending, i)
	}
	c.low = min(c.low, i)
	return nil
}

// GiveUpAll fails every open task: the publisher found the job cannot be
// rendered (its own render of it failed).
func (c *Coordinator) GiveUpAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, t := range c.tasks {
		if t.status == tsOpen {
			c.finish(i, tsFailed)
		}
	}
}
