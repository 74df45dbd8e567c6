package scheduler

import (
	"image"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/job"
)

// Reopen takes back the results p alone had accepted in this job (checked,
// at most, by another peer's crop), when p
// was just caught cheating elsewhere: an unreplicated result of a peer
// that cheats is as doubtful as the one it was caught on. Each such task
// is open again, wants a quorum of two fresh results, and is never leased
// to p again. Receipts already issued stand. A job that is done (its
// frames handed to the artist) is left alone. It returns the tasks
// reopened.
func (c *Coordinator) Reopen(now time.Time, p peer.ID) []job.Task {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.canceled || c.accepted+c.failed == len(c.tasks) {
		return nil
	}
	var out []job.Task
	for i, t := range c.tasks {
		if t.status != tsAccepted || len(t.agreeing) != len(t.checkers)+1 || !t.renderedAlone(p) {
			continue
		}
		c.touch(i)
		t.status, c.accepted = tsOpen, c.accepted-1
		t.result, t.agreeing, t.checkers, t.credited = Result{}, nil, nil, false
		t.crop, t.parts = image.Rectangle{}, nil
		t.want, t.quorum = max(c.cfg.Replicas, 2), max(c.cfg.Replicas, 2)
		t.firstRender = 0
		// A closed replica of p's bars p from the task (triedBy) and
		// survives restarts with it.
		r := &replica{Lease: Lease{ID: c.nextID(), Task: t.t, Peer: p, Issued: now, Expires: now.Add(time.Nanosecond)}, task: i, state: stFailed}
		t.replicas = []*replica{r}
		c.leases[r.ID] = r
		c.low = min(c.low, i)
		out = append(out, t.t)
	}
	return out
}

// renderedAlone reports whether p is the one agreeing peer of accepted
// task t that rendered all of it.
func (t *task) renderedAlone(p peer.ID) bool {
	for _, a := range t.agreeing {
		if a != p && !slices.Contains(t.checkers, a) {
			return false
		}
	}
	return slices.Contains(t.agreeing, p) && !slices.Contains(t.checkers, p)
}
