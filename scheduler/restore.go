package scheduler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Restoring a coordinator from a Snapshot (and, through loadHeader and
// loadTask, from the rows of Changes): every value is checked before it
// is used.

// Restore rebuilds a coordinator from a Snapshot of the same job: cfg must
// list the same tasks with the same replication policy. Accepted results
// and credited flags are kept; leases still open stay valid under their
// IDs, and those that were live at the snapshot's latest time get the
// publisher's downtime (now minus that time) added to their expiry, so
// volunteers who finished while the publisher was away can still commit and
// deliver. New lease IDs never collide with old ones.
func Restore(cfg Config, snap []byte, now time.Time) (*Coordinator, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	var s snapshot
	dec := json.NewDecoder(bytes.NewReader(snap))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the snapshot", ErrBadSnapshot)
	}
	if err := c.load(&s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}
	c.resume(now)
	return c, nil
}

// resume gives the leases live at the restored state's latest time the
// publisher's downtime (now minus that time).
func (c *Coordinator) resume(now time.Time) {
	if c.clock.IsZero() || !now.After(c.clock) {
		return
	}
	down := now.Sub(c.clock)
	c.nextExpiry = time.Time{}
	for r := range c.active {
		if r.Expires.After(c.clock) {
			r.Expires = r.Expires.Add(down)
		}
		if r.commitBy.After(c.clock) {
			r.commitBy = r.commitBy.Add(down)
		}
		if r.deliverBy.After(c.clock) {
			r.deliverBy = r.deliverBy.Add(down)
		}
		c.watch(r)
	}
}

// load applies a decoded snapshot to a fresh coordinator, checking every
// value.
func (c *Coordinator) load(s *snapshot) error {
	if err := c.loadHeader(s, SnapshotVersion); err != nil {
		return err
	}
	last := -1
	for k := range s.State {
		ts := &s.State[k]
		if ts.I <= last || ts.I >= len(c.tasks) {
			return fmt.Errorf("task index %d out of order or range", ts.I)
		}
		last = ts.I
		if err := c.loadTask(s, c.tasks[ts.I], ts); err != nil {
			return fmt.Errorf("task %s: %v", c.tasks[ts.I].t, err)
		}
		c.touch(ts.I) // a whole snapshot read is written again as rows
	}
	c.settle()
	return nil
}

// loadHeader applies the job-level part of a decoded snapshot or header:
// it must be of the given format version.
func (c *Coordinator) loadHeader(s *snapshot, version int) error {
	switch {
	case s.Version != version:
		return fmt.Errorf("format version %d, want %d", s.Version, version)
	case s.Job != c.cfg.Job.String():
		return fmt.Errorf("snapshot of job %q, not %s", s.Job, c.cfg.Job)
	case s.Tasks != c.fingerprint:
		return errors.New("task list differs from the config's")
	case s.Replicas != c.cfg.Replicas:
		return fmt.Errorf("replicas %d, config says %d", s.Replicas, c.cfg.Replicas)
	case s.Seq > math.MaxUint64/2:
		return fmt.Errorf("lease counter %d out of range", s.Seq)
	}
	c.seq, c.paused, c.canceled = s.Seq, s.Paused, s.Canceled
	if s.Clock != 0 {
		c.clock = time.Unix(0, s.Clock)
	}
	if err := checkPeerTable(s.Peers); err != nil {
		return err
	}
	for _, pp := range s.Points {
		p, err := s.peer(pp.Peer)
		if err != nil {
			return err
		}
		if _, dup := c.points[p]; dup || pp.Points <= 0 || pp.Points > maxPoints {
			return fmt.Errorf("failure points of %s: %d, or listed twice", p, pp.Points)
		}
		c.points[p] = pp.Points
		c.dirtyPoints[p] = struct{}{} // rows at the next Changes
	}
	return nil
}

// settle fails the dependants of failed tasks and finds the tasks waiting
// for a decision, once every task is loaded.
func (c *Coordinator) settle() {
	for i, t := range c.tasks {
		if t.status == tsFailed {
			for _, d := range t.dependents {
				c.finish(d, tsFailed)
			}
		}
		if t.status == tsOpen && len(t.delivered) >= t.want {
			c.pending[i] = struct{}{}
		}
	}
}

// loadTask applies one task's snapshot.
func (c *Coordinator) loadTask(s *snapshot, t *task, ts *taskSnap) error {
	crop, err := ts.Crop.rectangle()
	if err != nil {
		return err
	}
	t.crop = crop
	if len(ts.Parts) > MaxParts {
		return fmt.Errorf("%d parts, more than %d", len(ts.Parts), MaxParts)
	}
	for k := range ts.Parts {
		part, err := ts.Parts[k].rectangle()
		if err != nil {
			return err
		}
		t.parts = append(t.parts, part)
	}
	switch ts.Status {
	case tsOpen:
	case tsAccepted:
		res, err := ts.Result.result()
		if err != nil {
			return err
		}
		if len(ts.Agreeing) == 0 || len(ts.Replicas) > 0 {
			return errors.New("accepted without agreeing peers, or with open replicas")
		}
		for _, k := range ts.Agreeing {
			p, err := s.peer(k)
			if err != nil {
				return err
			}
			if slices.Contains(t.agreeing, p) {
				return fmt.Errorf("peer %s agreeing twice", p)
			}
			t.agreeing = append(t.agreeing, p)
		}
		for _, k := range ts.Checkers {
			p, err := s.peer(k)
			if err != nil {
				return err
			}
			if !slices.Contains(t.agreeing, p) || slices.Contains(t.checkers, p) || crop.Empty() {
				return fmt.Errorf("checker %s not agreeing, twice, or without a crop", p)
			}
			t.checkers = append(t.checkers, p)
		}
		if len(t.checkers) >= len(t.agreeing) {
			return errors.New("accepted on checks alone")
		}
		t.status, t.result, t.credited = tsAccepted, res, ts.Credited
		c.accepted++
		return nil
	case tsFailed:
		if len(ts.Replicas) > 0 || ts.Credited || ts.Result != nil {
			return errors.New("failed task with replicas or a result")
		}
		if t.status == tsOpen { // a failed dependency may have failed it already
			t.status = tsFailed
			c.failed++
		}
		return nil
	default:
		return fmt.Errorf("unknown status %d", ts.Status)
	}
	if ts.Credited || ts.Result != nil || len(ts.Agreeing) > 0 {
		return errors.New("open task with a result")
	}
	if ts.Quorum < 1 || ts.Quorum > ts.Want || ts.Want > c.maxResults(t) || ts.Want < c.cfg.Replicas {
		return fmt.Errorf("want %d and quorum %d out of range", ts.Want, ts.Quorum)
	}
	if ts.FirstRender < 0 {
		return errors.New("negative render time")
	}
	if ts.Refutes < 0 || ts.ConsistentRefs < 0 || ts.ConsistentRefs > ts.Refutes {
		return fmt.Errorf("refute counts %d and %d out of range", ts.Refutes, ts.ConsistentRefs)
	}
	t.want, t.quorum = ts.Want, ts.Quorum
	t.firstRender, t.needEstablished, t.reproduced = time.Duration(ts.FirstRender), ts.NeedEstablished, ts.Reproduced
	t.refutes, t.consistentRefutes = ts.Refutes, ts.ConsistentRefs
	t.selfCheck, t.racers = ts.SelfCheck, ts.Racers
	if t.racers == 0 && ts.Racing {
		t.racers = 1
	}
	if t.racers < 0 || t.racers >= t.want {
		return fmt.Errorf("%d racers out of range for want %d", t.racers, t.want)
	}
	if !t.crop.Empty() {
		c.checking[c.index[t.t]] = c.clock // waits CheckWait again from the restore
	}
	for k := range ts.Replicas {
		r, err := c.loadReplica(s, &ts.Replicas[k], t)
		if err != nil {
			return fmt.Errorf("replica %d: %v", k, err)
		}
		t.replicas = append(t.replicas, r)
		c.leases[r.ID] = r
		if r.active() {
			c.activate(r)
		}
	}
	seen := make([]bool, len(t.replicas))
	for _, k := range ts.Delivered {
		if k < 0 || k >= len(t.replicas) || seen[k] || t.replicas[k].state != stDelivered {
			return fmt.Errorf("delivered index %d is not a delivered replica", k)
		}
		seen[k] = true
		t.delivered = append(t.delivered, t.replicas[k])
	}
	for k, r := range t.replicas {
		if r.state == stDelivered && !seen[k] {
			return fmt.Errorf("replica %d delivered but not listed", k)
		}
	}
	if t.active+len(t.delivered) > t.want {
		return fmt.Errorf("%d replicas out and %d delivered, only %d wanted", t.active, len(t.delivered), t.want)
	}
	return nil
}

// loadReplica checks and converts one replica of task t.
func (c *Coordinator) loadReplica(s *snapshot, rs *repSnap, t *task) (*replica, error) {
	if rs.ID == "" || len(rs.ID) > 64 {
		return nil, errors.New("bad lease ID")
	}
	if _, dup := c.leases[rs.ID]; dup {
		return nil, fmt.Errorf("lease ID %q used twice", rs.ID)
	}
	p, err := s.peer(rs.Peer)
	if err != nil {
		return nil, err
	}
	if t.triedBy(p) {
		return nil, fmt.Errorf("two replicas for %s", p)
	}
	crop, err := rs.Crop.rectangle()
	if err != nil {
		return nil, err
	}
	if rs.State < stLeased || rs.State > stLast || rs.Expires <= rs.Issued || len(rs.Prefix) > 256 {
		return nil, errors.New("bad state, times or prefix")
	}
	r := &replica{
		Lease: Lease{
			ID: rs.ID, Task: t.t, Peer: p, Salt: rs.Salt,
			Issued: time.Unix(0, rs.Issued), Expires: time.Unix(0, rs.Expires), Crop: crop,
		},
		task:     c.index[t.t],
		prefix:   rs.Prefix,
		state:    rs.State,
		revealed: rs.Revealed && rs.State == stCommitted,
		backup:   rs.Backup,
	}
	if rs.CommitBy != 0 {
		r.commitBy = time.Unix(0, rs.CommitBy)
	}
	if rs.DeliverBy != 0 {
		r.deliverBy = time.Unix(0, rs.DeliverBy)
	}
	if (rs.State == stLeased) != (rs.Commitment == nil) && rs.State <= stDelivered {
		return nil, errors.New("commitment present exactly when committed or delivered")
	}
	if rs.Commitment != nil {
		r.commitment = *rs.Commitment
	}
	if rs.State != stDelivered {
		if rs.Result != nil {
			return nil, errors.New("result on an undelivered replica")
		}
		return r, nil
	}
	res, err := rs.Result.result()
	if err != nil {
		return nil, err
	}
	if !r.commitment.Opens(r.Salt, res.Digest) {
		return nil, errors.New("delivered result does not open its commitment")
	}
	r.result = res
	return r, nil
}

// peer returns the peer at index i of the snapshot's peer table.
func (s *snapshot) peer(i int) (peer.ID, error) {
	if i < 0 || i >= len(s.Peers) {
		return "", fmt.Errorf("peer index %d out of range", i)
	}
	return s.Peers[i], nil
}
