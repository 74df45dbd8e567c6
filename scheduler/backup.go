package scheduler

import (
	"cmp"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Backups of stragglers (LeaseBackup, package documentation).

// LeaseBackup is Lease for a peer that has nothing else to do, in this job
// or any other: when the job has no task to lease to it, it gets a backup
// of a straggler — a replica of a whole task, not yet committed and the
// only one of its task still out (or the later of two out of a task
// replicated at issue), that this peer is expected to commit
// well before (finishBy); of those, the one expected last. The backup
// races the straggler: the first of them to commit keeps the task, and the
// other is withdrawn without a failure. A peer expected to commit well
// before both racers replaces the slower one. So a job's last frames do
// not wait for its slowest volunteers while fast ones idle.
func (c *Coordinator) LeaseBackup(now time.Time, p peer.ID, prefix string) (Lease, error) {
	return c.lease(now, p, prefix, true)
}

// straggler returns the replica for p on prefix to race (LeaseBackup) and,
// when its task races already, the slower racer p replaces; nil when none.
// A task replicated for verification is backed up only by an established
// peer, and not on the prefix of its other replicas when spreading can
// succeed: a backup must not be an easier way than a lease to hold two
// results of one task.
func (c *Coordinator) straggler(now time.Time, p peer.ID, prefix string) (slow, drop *replica) {
	if c.cfg.BackupAfter < 0 || c.cfg.RenderTime <= 0 {
		return nil, nil // the publisher does not know yet how long a render takes
	}
	mine := c.renderFor(p)
	beat := now.Add(mine + mine/4) // p's commitment, with a margin
	established := c.established(p)
	spread := prefix != "" && c.otherPrefixSeen(now, prefix)
	for _, e := range c.raceables(now) {
		if !e.due.After(beat) {
			break // nor any after it
		}
		slower, faster, due, ok := c.raceable(now, e.r)
		if !ok || !due.After(beat) {
			continue
		}
		t := c.tasks[slower.task]
		if t.triedBy(p) || t.needEstablished && !established ||
			t.want > 1+b2i(t.racing) && (!established || spread && t.onPrefix(prefix)) {
			continue
		}
		if faster != nil {
			return faster, slower
		}
		return slower, nil
	}
	return c.insure(now, p, mine, established, spread, prefix)
}

// Insurance races (package documentation).
//
// A volunteer leaving (churn) or crashing loses its lease silently: the
// task goes out again only once the lease expires, and is rendered again
// from the start. At a job's end that is the job's last frame, minutes
// late. So while more volunteers ask for backups than there are replicas
// to race, the idle ones render the job's last tasks beside their
// holders even when they would not commit first: the first of the two to
// commit keeps the task, as in any race, and a holder lost on the way
// costs nothing. They are idle either way.

// idleWindow is how long a LeaseBackup asker counts as idle: a job with
// many idle askers tells them to come back after up to half a minute.
const idleWindow = 30 * time.Second

// noteIdle records that p asked for a backup with nothing else to take.
func (c *Coordinator) noteIdle(now time.Time, p peer.ID) {
	if c.idle == nil {
		c.idle = map[peer.ID]time.Time{}
	}
	c.idle[p] = now
}

// countIdle counts the idle askers of the last idleWindow, forgetting
// the others.
func (c *Coordinator) countIdle(now time.Time) int {
	n := 0
	for q, at := range c.idle {
		switch {
		case now.Sub(at) > idleWindow:
			delete(c.idle, q)
		case !at.After(now):
			n++
		}
	}
	return n
}

// flooded reports whether at least need peers, and as many as there are
// replicas a backup may race, asked for backups in the last idleWindow
// and got nothing else: the job's end, when a peer's time costs nothing.
func (c *Coordinator) flooded(now time.Time, need int) bool {
	races := c.raceables(now)
	return c.idleN > 0 && c.idleN >= max(need, len(races))
}

// insure returns the replica p should race as insurance, when the job has
// at least as many idle askers as replicas a backup may race: of those not
// raced yet, the one due last whose commitment p would not trail by more
// than half its own render (a slower peer's copy is worth less than the
// task going out again to a faster one). The checks are straggler's.
func (c *Coordinator) insure(now time.Time, p peer.ID, mine time.Duration, established, spread bool, prefix string) (slow, drop *replica) {
	if !c.flooded(now, 0) {
		return nil, nil
	}
	for _, e := range c.races { // as flooded listed them
		if e.due.Before(now.Add(mine / 2)) {
			break // nor any after it
		}
		slower, faster, _, ok := c.raceable(now, e.r)
		if !ok || faster != nil {
			continue
		}
		t := c.tasks[slower.task]
		if t.racing || t.triedBy(p) || t.needEstablished && !established ||
			t.want > 1 && (!established || spread && t.onPrefix(prefix)) {
			continue
		}
		return slower, nil
	}
	return nil, nil
}

// raceEvery is how often the list of replicas a backup may race is made
// anew: every idle volunteer asks every few seconds, and a job may have
// thousands of replicas out.
const raceEvery = time.Second

// race is a replica a backup may race, with when its task is expected to
// commit.
type race struct {
	r   *replica
	due time.Time
}

// raceables lists the replicas a backup may race, whoever asks, latest due
// first, as of at most raceEvery ago: straggler checks each again.
func (c *Coordinator) raceables(now time.Time) []race {
	if !c.racesAt.IsZero() && now.Sub(c.racesAt) < raceEvery && !now.Before(c.racesAt) {
		return c.races
	}
	c.races, c.racesAt = c.races[:0], now
	c.idleN = c.countIdle(now)
	for r := range c.active {
		if slower, _, due, ok := c.raceable(now, r); ok && slower == r {
			c.races = append(c.races, race{r, due})
		}
	}
	slices.SortFunc(c.races, func(a, b race) int {
		return cmp.Or(b.due.Compare(a.due), cmp.Compare(a.r.ID, b.r.ID))
	})
	return c.races
}

// raceable reports whether a backup may race r's task, whoever asks, and
// how: r is leased, of the whole task, and the task wants no other
// replica; r is its only one out, or the later of its two out (a task
// replicated at issue, not racing yet), or, when it races already with
// two out, one of its two racers. slower is the replica to race or, in a
// race, the racer to replace; faster the other racer (nil: none); due
// when the task is expected to commit. A replica nothing is known of is
// raced only once it ran BackupAfter and the reference machine's render.
func (c *Coordinator) raceable(now time.Time, r *replica) (slower, faster *replica, due time.Time, ok bool) {
	t := c.tasks[r.task]
	if r.state != stLeased || !r.Crop.Empty() || t.status != tsOpen || t.needsReplica() {
		return nil, nil, time.Time{}, false
	}
	var other *replica
	for _, o := range t.replicas {
		if o != r && o.state == stLeased {
			if other != nil || !o.Crop.Empty() {
				return nil, nil, time.Time{}, false // three out, or a check beside r
			}
			other = o
		}
	}
	due, ok = c.estimate(now, r)
	if !ok || other == nil {
		return r, nil, due, ok
	}
	odue, ok := c.estimate(now, other)
	if !ok {
		return nil, nil, time.Time{}, false
	}
	if odue.After(due) || odue.Equal(due) && other.ID > r.ID {
		r, other, due, odue = other, r, odue, due
	}
	if !t.racing {
		return r, nil, due, true // the later of two replicas wanted
	}
	return r, other, odue, true // the race ends with the first to commit
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// endRace withdraws, when r is the first of a raced task's replicas to
// commit, the one other replica out expected to commit last: the one r
// raced, or of a task with two replicas out when the race began, either
// of those two (a restart forgets which one was raced). Its peer is not
// charged.
func (c *Coordinator) endRace(now time.Time, t *task, r *replica) {
	if !t.racing {
		return
	}
	var last *replica
	var lastDue time.Time
	for _, o := range t.replicas {
		if o == r || o.state != stLeased || !o.Crop.Empty() {
			continue
		}
		if due, _ := c.finishBy(now, o); last == nil || due.After(lastDue) {
			last, lastDue = o, due
		}
	}
	t.racing = false
	t.want--
	if last != nil {
		c.close(now, last, stReleased, 0)
	}
}

// Report records how far the render of leased replica leaseID has got
// (0–1), as p's renewals report it: LeaseBackup estimates from it when the
// replica will commit. It is soft state, not snapshotted; a report that
// does not grow is ignored.
func (c *Coordinator) Report(now time.Time, leaseID string, p peer.ID, done float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, err := c.lookup(leaseID, p)
	if err != nil || r.state != stLeased || !(done > float64(r.done)) || done > 1 || now.Before(r.Issued) {
		return
	}
	r.done, r.doneAt = float32(done), now
}

// estimate is finishBy for a replica a backup may race: ok is false for
// one nothing is known of that has not yet run BackupAfter and the
// reference machine's render (nothing says it is slow yet).
func (c *Coordinator) estimate(now time.Time, r *replica) (due time.Time, ok bool) {
	due, known := c.finishBy(now, r)
	return due, known || now.Sub(r.Issued) >= max(c.cfg.BackupAfter, c.cfg.RenderTime/SlowFactor)
}

// minProgress is the least reported progress an estimate extrapolates
// from: below it, a render's fetch and start-up dominate.
const minProgress = 0.05

// finishBy estimates when leased replica r will commit: from the progress
// its peer reported, else from that peer's pace on this job's earlier
// tasks, else from the speed it says it has (NoteSpeed). known is false
// when none of them says; then due is a slow machine's render
// (RenderTime) after the lease or, past that, a reference render from now.
// An estimate the render has outlived by d is moved to d from now: a
// replica late by a minute is expected a minute later still, so a holder
// whose reports its render belies (99 % at once, and no commitment) is
// raced within minutes, not left the task until MaxLease.
func (c *Coordinator) finishBy(now time.Time, r *replica) (due time.Time, known bool) {
	switch pace, ok := c.pace[r.Peer]; {
	case r.done >= minProgress:
		due = r.Issued.Add(time.Duration(float64(r.doneAt.Sub(r.Issued)) / float64(r.done)))
	case ok:
		due = r.Issued.Add(time.Duration(pace * float64(c.cfg.RenderTime)))
	case c.speeds[r.Peer] > 0:
		due = r.Issued.Add(c.renderFor(r.Peer))
	default:
		return maxTime(r.Issued.Add(c.cfg.RenderTime), now.Add(c.cfg.RenderTime/SlowFactor)), false
	}
	if late := now.Sub(due); late > 0 {
		due = now.Add(late)
	}
	return due, true
}

// renderFor is how long p is expected to take on a whole task of this
// job: its pace on earlier tasks, else the mean pace of the job's peers,
// else the reference machine's render (RenderTime ÷ SlowFactor).
func (c *Coordinator) renderFor(p peer.ID) time.Duration {
	pace, ok := c.pace[p]
	speed, said := c.speeds[p]
	switch {
	case ok:
	case said:
		pace = 1 / (SlowFactor * speed)
	case len(c.pace) > 0:
		pace = c.meanPace()
	default:
		pace = 1.0 / SlowFactor
	}
	return time.Duration(pace * float64(c.cfg.RenderTime))
}

// meanPace is the mean of the job's peers' paces; call it only when
// some pace is known.
func (c *Coordinator) meanPace() float64 {
	return c.paceSum / float64(len(c.pace))
}

// notePace records how long r, a replica of a whole task, took from its
// lease to its commitment, in RenderTimes: a moving average per peer.
func (c *Coordinator) notePace(now time.Time, r *replica) {
	if c.cfg.RenderTime <= 0 || !r.Crop.Empty() || now.Before(r.Issued) {
		return
	}
	if c.pace == nil {
		c.pace = map[peer.ID]float64{}
	}
	took := float64(now.Sub(r.Issued)) / float64(c.cfg.RenderTime)
	old, ok := c.pace[r.Peer]
	pace := took
	if ok {
		pace = (old + took) / 2
	}
	c.pace[r.Peer] = pace
	c.paceSum += pace - old
}
