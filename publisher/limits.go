package publisher

import (
	"time"

	"github.com/renderswarm/renderswarm/internal/peerrate"
)

// Lease requests that get no work a peer may make: leaseRate a second on
// average, leaseBurst at once. An idle honest volunteer asks every few
// seconds; a peer above it is told to come back later. A request that is
// granted a lease costs nothing here: how fast a peer may take work is
// bounded by its uncommitted leases (scheduler), and a volunteer rendering
// tiny tasks asks many times a second.
const (
	leaseRate  = 2
	leaseBurst = 10
)

// newLimiter returns the per-peer buckets of lease requests; a peer idle
// for a minute is full again and may be forgotten.
func newLimiter() *peerrate.Buckets {
	return peerrate.New(leaseRate, leaseBurst, time.Minute)
}
