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
// of a straggler — a replica of a whole task, not yet committed, that the
// task's commitments wait for and that this peer is expected to commit
// well before (finishBy); of those, the one expected last. The backup
// races the straggler: each commitment while the task races withdraws the
// other replica out due last, without a failure. A task races one backup
// at a time: a peer that would beat the replica its commitments wait for
// replaces the racer due last, or the backup the task waits for or, its
// pace measured, would commit well before. So a
// job's last frames do not wait for its slowest volunteers while fast
// ones idle.
func (c *Coordinator) LeaseBackup(now time.Time, p peer.ID, prefix string) (Lease, error) {
	return c.lease(now, p, prefix, true)
}

// straggler returns the replica for p on prefix to race (LeaseBackup) and,
// when its task races already as often as it needs commitments, the racer
// due last that p replaces; nil when none. A task replicated for
// verification is backed up only by an established peer, and not on the
// prefix of its other replicas when spreading can succeed: a backup must
// not be an easier way than a lease to hold two results of one task.
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
		v, ok := c.raceable(now, e.r)
		if !ok || !v.due.After(beat) {
			continue
		}
		t := c.tasks[v.wait.task]
		switch {
		case t.racers >= v.need:
			if c.mayRace(t, p, established, spread, prefix, v.last) {
				return v.wait, v.last
			}
		case t.want < c.maxResults(t) && c.mayRace(t, p, established, spread, prefix, nil):
			return v.wait, nil
		default:
			// A task replicated for verification races one backup at a
			// time: p may replace it when the task waits for it, or when p,
			// its pace on the job measured, would commit well before it
			// (once the backup commits, the task's other straggler may be
			// raced in turn, and the sooner the better).
			b := t.backupOut()
			if b == nil || !c.mayRace(t, p, established, spread, prefix, b) {
				continue
			}
			if due, _ := c.finishBy(now, b); !due.Before(v.due) || c.paced(p) && due.After(beat) {
				return v.wait, b
			}
		}
	}
	return c.insure(now, p, mine, established, spread, prefix)
}

// paced reports whether p's pace on this job was measured (it committed a
// whole task of it), not only said (NoteSpeed).
func (c *Coordinator) paced(p peer.ID) bool {
	_, ok := c.pace[p]
	return ok
}

// backupOut returns a leased backup replica of t, the one issued last;
// nil when none.
func (t *task) backupOut() *replica {
	for k := len(t.replicas) - 1; k >= 0; k-- {
		if r := t.replicas[k]; r.backup && r.state == stLeased {
			return r
		}
	}
	return nil
}

// mayRace reports whether p may hold a backup of t, in place of drop (nil:
// beside the replicas out): p has not tried t, and a task replicated for
// verification (or awaiting an established peer) takes only an
// established peer, off its replicas' prefix when spreading can succeed,
// and not while another backup of it is out for results it still needs
// (pairedBackups).
func (c *Coordinator) mayRace(t *task, p peer.ID, established, spread bool, prefix string, drop *replica) bool {
	verified := t.want-t.racers > 1
	return !t.triedBy(p) && !(t.needEstablished && !established) &&
		!(verified && (!established || spread && t.onPrefix(prefix) || t.pairedBackups(drop)))
}

// pairedBackups reports whether one more backup of t, in place of drop,
// and the backups out could give two of the results its quorum still
// needs. Backups go to whoever asks, not at random as leases do: two
// colluders asking one after the other must not race one verified task
// at once.
func (t *task) pairedBackups(drop *replica) bool {
	held, backupsOut := 0, 0
	for _, r := range t.replicas {
		if r == drop || !r.Crop.Empty() {
			continue
		}
		switch r.state {
		case stCommitted, stDelivered:
			held++
		case stLeased:
			backupsOut += b2i(r.backup)
		}
	}
	return min(t.quorum-held, backupsOut+1) >= 2
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Insurance races (package documentation).
//
// A volunteer leaving (churn) or crashing loses its lease silently: the
// task goes out again only once the lease expires, and is rendered again
// from the start. At a job's end that is the job's last frame, minutes
// late. So while more volunteers ask for backups than there are tasks to
// race, the idle ones render the job's last tasks not raced yet beside
// their holders even when they would not commit first: the first of the
// two to commit keeps the task, as in any race, and a holder lost on the
// way costs nothing. They are idle either way. Not beside a racer: a
// peer that tried a task may not check its result, and a job with few
// volunteers would have none left to.

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
// at least as many idle askers as tasks a backup may race: of those not
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
		v, ok := c.raceable(now, e.r)
		if !ok || v.due.Before(now.Add(mine/2)) {
			continue
		}
		t := c.tasks[v.wait.task]
		if t.racers == 0 && t.want < c.maxResults(t) && c.mayRace(t, p, established, spread, prefix, nil) {
			return v.wait, nil
		}
	}
	return nil, nil
}

// raceEvery is how often the list of replicas a backup may race is made
// anew: every idle volunteer asks every few seconds, and a job may have
// thousands of replicas out.
const raceEvery = time.Second

// race is a replica with when it is expected to commit; in the list
// raceables makes, a task a backup may race, by the replica its
// commitments wait for (raceView.wait).
type race struct {
	r   *replica
	due time.Time
}

// raceables lists the tasks a backup may race, whoever asks, latest due
// first, as of at most raceEvery ago: straggler checks each again.
func (c *Coordinator) raceables(now time.Time) []race {
	if !c.racesAt.IsZero() && now.Sub(c.racesAt) < raceEvery && !now.Before(c.racesAt) {
		return c.races
	}
	c.races, c.racesAt = c.races[:0], now
	c.idleN = c.countIdle(now)
	for r := range c.active {
		if v, ok := c.raceable(now, r); ok && v.wait == r {
			c.races = append(c.races, race{r, v.due})
		}
	}
	slices.SortFunc(c.races, func(a, b race) int {
		return cmp.Or(b.due.Compare(a.due), cmp.Compare(a.r.ID, b.r.ID))
	})
	return c.races
}

// raceView is how a backup may race a task.
type raceView struct {
	// need is how many more commitments the task needs: its leased whole
	// replicas less its racers.
	need int
	// wait is the leased replica whose commitment completes them, the
	// need-th due of those out, and due when it is expected.
	wait *replica
	due  time.Time
	// last is the replica out due last: a backup that would beat wait
	// replaces it when the task races as often as it needs commitments.
	last *replica
}

// raceable reports whether a backup may race the task of r, whoever asks,
// and how: r is one of the task's leased whole replicas, the task wants
// no other replica and has no check replica out, and when each of its
// replicas out will commit is known (a replica nothing is known of is
// raced only once it ran BackupAfter and the reference machine's render).
func (c *Coordinator) raceable(now time.Time, r *replica) (v raceView, ok bool) {
	t := c.tasks[r.task]
	if r.state != stLeased || !r.Crop.Empty() || t.status != tsOpen || t.needsReplica() {
		return raceView{}, false
	}
	var outs [8]race
	l := outs[:0]
	for _, o := range t.replicas {
		if o.state != stLeased {
			continue
		}
		if !o.Crop.Empty() {
			return raceView{}, false // a check beside r
		}
		due, ok := c.estimate(now, o)
		if !ok {
			return raceView{}, false
		}
		l = append(l, race{o, due})
	}
	slices.SortFunc(l, func(a, b race) int { return cmp.Or(a.due.Compare(b.due), cmp.Compare(a.r.ID, b.r.ID)) })
	need := len(l) - t.racers
	if need < 1 {
		return raceView{}, false
	}
	return raceView{need: need, wait: l[need-1].r, due: l[need-1].due, last: l[len(l)-1].r}, true
}

// endRace withdraws, when r commits while its task races, the other
// replica out expected to commit last: the racer a commitment made
// needless (after a restart, which replica raced which is not known; the
// count is). Its peer is not charged.
func (c *Coordinator) endRace(now time.Time, t *task, r *replica) {
	if t.racers == 0 {
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
	if last == nil {
		t.racers, t.want = t.racers-1, t.want-1
		return
	}
	c.close(now, last, stReleased, 0) // one racer fewer
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
