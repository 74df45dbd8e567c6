package scheduler

import (
	"math"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// The last tasks of a job go to its faster peers (leaveToFaster).
//
// A task leased to a slow machine while faster ones are about to be free
// ends the job late, or is raced by a backup (LeaseBackup) that throws
// the slow render away. So once the job drains, a peer whose render of a
// whole task would take longer than the job's peers need to finish all
// its whole-task work without it gets none of the tasks nobody has tried
// yet: it renders for a job with a longer queue. Check crops (a sixteenth
// of a task) and the further replicas of a task still go to it: the
// faster peers may have tried that task already.
//
// Work on the tasks tried already waits for a faster idle peer instead,
// for a while (waitForFaster): that is where a job's last seconds go once
// its second renders are split into bands.

// tailMargin is how much longer than the job's drain a peer's render must
// be expected to take before it is left without a whole task.
const tailMargin = 1.5

// idleWindow is how long a peer told there was no work counts as idle:
// about the longest a publisher tells an idle asker to wait.
const idleWindow = 30 * time.Second

// tailWait is how long a draining job's task tried already (a further
// replica, a check crop) waits for a faster idle peer than one that asks.
const tailWait = 20 * time.Second

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
		c.rankIdle(now)
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
	// Past this many wanted replicas the drain takes four renders of the
	// job's mean peer: nobody is slow enough to be left out.
	limit := 4*out + 16
	wanted := 0
	c.tailWanted = 0
	for i := c.low; i < len(c.tasks) && wanted <= limit; i++ {
		t := c.tasks[i]
		if !t.needsReplica() {
			continue
		}
		if len(t.replicas) > 0 {
			c.tailWanted += t.want - t.active - len(t.delivered)
		}
		if t.nextCrop().Empty() {
			wanted += t.want - t.active - len(t.delivered)
		}
	}
	switch {
	case wanted > limit:
		return 0, false
	case wanted+out == 0:
		return 0, true // every whole render is in: the job's last checks
	case rate <= 0:
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

// noWork tells p there is no work for it now, and notes it idle.
func (c *Coordinator) noWork(now time.Time, p peer.ID) (Lease, error) {
	if c.idle == nil {
		c.idle = map[peer.ID]time.Time{}
	}
	c.idle[p] = now
	if len(c.idle) >= max(2*c.idleKept, idlePruneMin) { // identities without end cannot grow it
		c.forgetIdle(now)
	}
	return Lease{}, ErrNoWork
}

// idlePruneMin is how many idle peers a job notes before it first forgets
// those idle too long ago; then whenever their count doubles.
const idlePruneMin = 1024

// forgetIdle forgets the peers not told there was no work within
// idleWindow.
func (c *Coordinator) forgetIdle(now time.Time) {
	for p, at := range c.idle {
		if now.Sub(at) > idleWindow || now.Before(at) {
			delete(c.idle, p)
		}
	}
	c.idleKept = len(c.idle)
}

// rankIdle ranks the render times of the peers idle within idleWindow,
// forgetting the others, and of tailSince the tasks waiting since long.
func (c *Coordinator) rankIdle(now time.Time) {
	c.forgetIdle(now)
	c.idleRenders = c.idleRenders[:0]
	for p := range c.idle {
		c.idleRenders = append(c.idleRenders, c.renderFor(p))
	}
	slices.Sort(c.idleRenders)
	for i, since := range c.tailSince {
		if now.Sub(since) > tailWait {
			delete(c.tailSince, i)
		}
	}
}

// waitForFaster reports whether task i, tried already, is better left
// for a faster idle peer than p: the job drains, and p's render would
// take tailMargin times that of the idle peer the task would get were
// the wanted replicas handed to the fastest idle peers, one each. A task
// waits so at most tailWait: the faster peers may have tried it already.
func (c *Coordinator) waitForFaster(now time.Time, i int, p peer.ID) bool {
	if _, ok := c.drain(now); !ok || len(c.idleRenders) == 0 {
		return false
	}
	if c.tailSince == nil {
		c.tailSince = map[int]time.Time{}
	}
	since, ok := c.tailSince[i]
	if !ok {
		since, c.tailSince[i] = now, now
	}
	if now.Sub(since) >= tailWait {
		return false
	}
	n := min(max(c.tailWanted, 1), len(c.idleRenders))
	return float64(c.renderFor(p)) > tailMargin*float64(c.idleRenders[n-1])
}
