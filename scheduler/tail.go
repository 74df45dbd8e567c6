package scheduler

import (
	"math"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// The last tasks of a job go to its faster peers (leaveToFaster).
//
// A task leased to a slow machine while faster ones are about to be free
// ends the job late, or is raced by a backup (LeaseBackup) that throws
// the slow render away. So once the job drains, a peer whose render of a
// whole task would take longer than the job's peers need to finish all
// its whole-task work without it gets none of the tasks nobody holds a
// render of: it renders for a job with a longer queue. That includes a
// task whose every render was lost (its holder left, or handed it back):
// the slow peers left idle by this rule would otherwise be the first to
// ask for it, and a job's end is when holders leave. Check crops (a
// sixteenth of a task) and the further replicas of a task still go to
// it: the faster peers may have tried that task already.

// tailMargin is how much longer than the job's drain a peer's render must
// be expected to take before it is left without a whole task.
const tailMargin = 1.5

// drainEvery is how often the drain estimate is made anew: every idle
// volunteer asks every few seconds.
const drainEvery = time.Second

// drain estimates, as of at most drainEvery ago, how long the job's peers
// take to finish its whole-task work: the replicas wanted and those out,
// at the pace of the peers rendering them. ok is false when the wanted
// replicas are too many for the job to be draining.
func (c *Coordinator) drain(now time.Time) (d time.Duration, ok bool) {
	if c.drainAt.IsZero() || now.Sub(c.drainAt) >= drainEvery || now.Before(c.drainAt) {
		c.drainAt = now
		c.drainFor, c.drainOK = c.estimateDrain()
	}
	return c.drainFor, c.drainOK
}

func (c *Coordinator) estimateDrain() (time.Duration, bool) {
	if c.cfg.RenderTime <= 0 {
		return 0, false
	}
	out := 0
	var rate float64 // whole tasks a second
	seen := map[peer.ID]bool{}
	for r := range c.active {
		if r.state != stLeased || !r.Crop.Empty() {
			continue
		}
		out++
		if !seen[r.Peer] {
			seen[r.Peer] = true
			rate += 1 / c.renderFor(r.Peer).Seconds()
		}
	}
	if rate <= 0 {
		return 0, false
	}
	// Past this many wanted replicas the drain takes four renders of the
	// job's mean peer: nobody is slow enough to be left out.
	limit := 4*out + 16
	wanted := 0
	for i := c.low; i < len(c.tasks) && wanted <= limit; i++ {
		if t := c.tasks[i]; t.needsReplica() && t.nextCrop().Empty() {
			wanted += t.want - t.active - len(t.delivered)
		}
	}
	if wanted > limit {
		return 0, false
	}
	return time.Duration(float64(wanted+out) / rate * float64(time.Second)), true
}

// leaveToFaster reports whether p is better left without a whole task of
// this job: the job drains, and p's render of one is expected to take
// tailMargin times the drain.
func (c *Coordinator) leaveToFaster(now time.Time, p peer.ID) bool {
	d, ok := c.drain(now)
	return ok && float64(c.renderFor(p)) > tailMargin*float64(d)
}

// NoteSpeed records the speed p says it has, relative to the reference
// machine (as it measured it for the compute units it claims): renderFor
// uses it until p's own pace on this job is known. A peer gains nothing by
// claiming more: it is raced like any other once late, and its measured
// pace replaces the claim at its first commitment.
func (c *Coordinator) NoteSpeed(p peer.ID, speed float64) {
	if !(speed > 0) || math.IsInf(speed, 1) { // the wire bounds it further (work.Request.Speed)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.speeds == nil {
		c.speeds = map[peer.ID]float64{}
	}
	c.speeds[p] = speed
}
