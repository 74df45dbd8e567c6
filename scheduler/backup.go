package scheduler

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Backups of stragglers (LeaseBackup, package documentation).

// LeaseBackup is Lease for a peer that has nothing else to do, in this job
// or any other: when the job has no task to lease to it, it gets a backup
// replica of a straggler — the task whose only replica, not yet committed,
// was leased longest ago, at least BackupAfter ago. The backup races that
// replica: the first of them to commit keeps the task, and the other is
// withdrawn without a failure. So a job's last frames do not wait for its
// slowest volunteers while fast ones idle.
func (c *Coordinator) LeaseBackup(now time.Time, p peer.ID, prefix string) (Lease, error) {
	return c.lease(now, p, prefix, true)
}

// straggler returns the task to back up for p (LeaseBackup), or -1.
func (c *Coordinator) straggler(now time.Time, p peer.ID) int {
	if c.cfg.BackupAfter < 0 || c.cfg.RenderTime <= 0 {
		return -1 // the publisher does not know yet how long a render takes
	}
	after := max(c.cfg.BackupAfter, c.cfg.RenderTime/4)
	best, oldest := -1, now.Add(-after)
	established := c.established(p)
	for r := range c.active {
		t := c.tasks[r.task]
		if r.state != stLeased || r.Issued.After(oldest) || !r.Crop.Empty() ||
			t.racing || t.active != 1 || len(t.delivered) > 0 || t.want != 1 || t.triedBy(p) ||
			t.needEstablished && !established {
			continue
		}
		best, oldest = r.task, r.Issued
	}
	return best
}

// endRace withdraws, when r is the first of a raced task's replicas to
// commit, the replica it raced: its peer is not charged.
func (c *Coordinator) endRace(now time.Time, t *task, r *replica) {
	if !t.racing {
		return
	}
	t.racing = false
	t.want--
	for _, o := range t.replicas {
		if o != r && o.state == stLeased {
			c.close(now, o, stReleased, 0)
		}
	}
}
