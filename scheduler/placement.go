package scheduler

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Replica placement: which task Lease hands a peer (package
// documentation): at random within a window of the work order, away from
// the task's last replica in time and from its other replicas' network
// prefixes.

// spreadWindow is how many leasable tasks Lease looks past the first one to
// find a task without a replica on the asking peer's network prefix.
const spreadWindow = 64

// pick returns the task to lease to p, or -1. It draws at random among
// the first PickWindow tasks p may take, in work order, that have no
// replica leased within ReplicaGap and none on p's prefix (when spreading
// across prefixes can succeed); failing those, among the tasks leased too
// recently; failing those, the first task on p's prefix.
func (c *Coordinator) pick(now time.Time, p peer.ID, prefix string) (int, error) {
	for c.low < len(c.tasks) && !c.tasks[c.low].needsReplica() {
		c.low++
	}
	spread := prefix != "" && c.otherPrefixSeen(now, prefix)
	established := c.established(p)
	gap := c.replicaGap()
	var good, recent []int
	onPrefix, looked := -1, 0
scan:
	for i := c.low; i < len(c.tasks) && len(good) < c.cfg.PickWindow; i++ {
		t := c.tasks[i]
		if !t.needsReplica() || t.triedBy(p) || !c.depsMet(t) || t.needEstablished && !established {
			continue
		}
		switch {
		case spread && t.onPrefix(prefix):
			if onPrefix < 0 {
				onPrefix = i
			}
			if looked++; looked >= spreadWindow && (len(good) > 0 || len(recent) > 0) {
				break scan
			}
		case gap > 0 && len(t.replicas) > 0 && now.Sub(t.lastIssued()) < gap:
			if len(recent) < c.cfg.PickWindow {
				recent = append(recent, i)
			}
		default:
			good = append(good, i)
		}
	}
	for _, from := range [][]int{good, recent} {
		if len(from) > 0 {
			k, err := c.draw(len(from))
			if err != nil {
				return -1, err
			}
			return from[k], nil
		}
	}
	return onPrefix, nil
}

// replicaGap is the job's ReplicaGap, shortened to RenderTime (at least
// MinReplicaGap) for a job of quick tasks.
func (c *Coordinator) replicaGap() time.Duration {
	gap := c.cfg.ReplicaGap
	if gap > 0 && c.cfg.RenderTime > 0 {
		gap = min(gap, max(c.cfg.RenderTime, MinReplicaGap))
	}
	return gap
}

// draw returns a uniform integer in [0, n) read from the configured Rand.
func (c *Coordinator) draw(n int) (int, error) {
	if n <= 1 {
		return 0, nil
	}
	f, err := c.coin()
	if err != nil {
		return 0, fmt.Errorf("placing a lease: %w", err)
	}
	return min(int(f*float64(n)), n-1), nil
}

func (c *Coordinator) depsMet(t *task) bool {
	for _, d := range t.deps {
		if c.tasks[d].status != tsAccepted {
			return false
		}
	}
	return true
}

// seePrefix records that a peer on prefix asked for work, forgetting
// prefixes not seen for a lease TTL once the table grows.
func (c *Coordinator) seePrefix(now time.Time, prefix string) {
	c.prefixes[prefix] = now
	if len(c.prefixes) > 1024 {
		for k, t := range c.prefixes {
			if now.Sub(t) >= c.cfg.LeaseTTL {
				delete(c.prefixes, k)
			}
		}
	}
}

// otherPrefixSeen reports whether a peer on another non-empty prefix asked
// for work within the last lease TTL: only then can spreading succeed.
func (c *Coordinator) otherPrefixSeen(now time.Time, prefix string) bool {
	for k, t := range c.prefixes {
		if k != prefix && now.Sub(t) < c.cfg.LeaseTTL {
			return true
		}
	}
	return false
}
