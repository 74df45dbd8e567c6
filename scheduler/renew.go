package scheduler

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Renew extends p's active lease to now+LeaseTTL, never past its issue time
// plus MaxLease, and returns the new expiry. A volunteer calls it while it
// fetches and renders (a heartbeat); a lease whose holder vanished expires
// one LeaseTTL after its last renewal. Renewing an expired or closed lease
// fails: the volunteer should stop working on it.
func (c *Coordinator) Renew(now time.Time, leaseID string, p peer.ID) (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tick(now)
	r, err := c.lookup(leaseID, p)
	if err != nil {
		return time.Time{}, err
	}
	if !r.active() {
		return time.Time{}, closedError(r)
	}
	exp := now.Add(c.cfg.LeaseTTL)
	if limit := r.Issued.Add(max(c.cfg.MaxLease, c.cfg.LeaseTTL)); exp.After(limit) {
		exp = limit
	}
	if exp.After(r.Expires) {
		r.Expires = exp
	}
	return r.Expires, nil
}
