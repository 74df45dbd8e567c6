package scheduler

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/job"
)

// SnapshotVersion is the snapshot format this package writes and reads.
const SnapshotVersion = 1

// ErrBadSnapshot is wrapped by every error Restore returns for snapshot
// bytes it cannot use.
var ErrBadSnapshot = errors.New("bad coordinator snapshot")

// maxPoints bounds a peer's failure points in a snapshot.
const maxPoints = 1 << 20

// snapshot is the version 1 encoding: compact JSON, tasks by index in work
// order, only tasks that differ from a fresh job.
type snapshot struct {
	Version  int          `json:"v"`
	Job      string       `json:"job"`
	Tasks    string       `json:"tasks"` // fingerprint of the task list
	Replicas int          `json:"replicas"`
	Seq      uint64       `json:"seq"`
	Clock    int64        `json:"clock,omitempty"` // Unix ns of the latest now seen
	Paused   bool         `json:"paused,omitempty"`
	Canceled bool         `json:"canceled,omitempty"`
	Peers    []peer.ID    `json:"peers,omitempty"` // referred to by index below
	Points   []peerPoints `json:"points,omitempty"`
	State    []taskSnap   `json:"state,omitempty"`
}

type peerPoints struct {
	Peer   int `json:"p"`
	Points int `json:"n"`
}

type taskSnap struct {
	I         int        `json:"i"`
	Status    taskStatus `json:"st,omitempty"`
	Want      int        `json:"want,omitempty"`
	Quorum    int        `json:"q,omitempty"`
	Replicas  []repSnap  `json:"r,omitempty"`
	Delivered []int      `json:"d,omitempty"` // indices into Replicas, in delivery order
	Result    *resSnap   `json:"res,omitempty"`
	Agreeing  []int      `json:"agree,omitempty"`
	Credited  bool       `json:"cr,omitempty"`
	// FirstRender is the first commitment's render time, ns.
	FirstRender     int64 `json:"fr,omitempty"`
	NeedEstablished bool  `json:"ne,omitempty"`
	Reproduced      bool  `json:"rp,omitempty"`
	Refutes         int   `json:"rf,omitempty"`
	ConsistentRefs  int   `json:"crf,omitempty"`
	Crop            *rect `json:"crop,omitempty"`
	SelfCheck       bool  `json:"sc,omitempty"`
	Racing          bool  `json:"race,omitempty"`
	Checkers        []int `json:"chk,omitempty"` // of Agreeing, those that rendered only Crop
}

// rect is a crop: x0, y0, x1, y1 in frame pixels.
type rect [4]int

func newRect(r image.Rectangle) *rect {
	if r.Empty() {
		return nil
	}
	return &rect{r.Min.X, r.Min.Y, r.Max.X, r.Max.Y}
}

// rectangle returns the crop (empty for none); a stored one must be a
// non-empty rectangle of a frame.
func (r *rect) rectangle() (image.Rectangle, error) {
	if r == nil {
		return image.Rectangle{}, nil
	}
	if r[0] < 0 || r[1] < 0 || r[2] <= r[0] || r[3] <= r[1] || r[2] > job.MaxSide || r[3] > job.MaxSide {
		return image.Rectangle{}, fmt.Errorf("bad crop %v", *r)
	}
	return image.Rect(r[0], r[1], r[2], r[3]), nil
}

type repSnap struct {
	ID         string          `json:"id"`
	Peer       int             `json:"p"`
	Prefix     string          `json:"pfx,omitempty"`
	Salt       job.Salt        `json:"salt"`
	Issued     int64           `json:"iss"`
	Expires    int64           `json:"exp"`
	State      replicaState    `json:"st"`
	Commitment *job.Commitment `json:"c,omitempty"`
	Result     *resSnap        `json:"res,omitempty"`
	CommitBy   int64           `json:"cby,omitempty"` // Unix ns
	DeliverBy  int64           `json:"dby,omitempty"` // Unix ns
	Revealed   bool            `json:"rv,omitempty"`
	Crop       *rect           `json:"crop,omitempty"`
}

type resSnap struct {
	CID    string          `json:"cid"`
	Digest job.PixelDigest `json:"digest"`
}

func newResSnap(r Result) *resSnap { return &resSnap{CID: r.CID.String(), Digest: r.Digest} }

func (r *resSnap) result() (Result, error) {
	if r == nil {
		return Result{}, errors.New("missing result")
	}
	c, err := cid.Decode(r.CID)
	if err != nil {
		return Result{}, fmt.Errorf("result CID: %v", err)
	}
	return Result{CID: c, Digest: r.Digest}, nil
}

// fingerprint identifies the task list in work order.
func fingerprint(tasks []*task) string {
	h := sha256.New()
	for _, t := range tasks {
		io.WriteString(h, t.t.String())
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Snapshot encodes the coordinator's state for Restore. Store it after
// every change that must survive a crash (at least after Lease, Deliver,
// Resolve and MarkCredited).
func (c *Coordinator) Snapshot() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := snapshot{
		Version:  SnapshotVersion,
		Job:      c.cfg.Job.String(),
		Tasks:    c.fingerprint,
		Replicas: c.cfg.Replicas,
		Seq:      c.seq,
		Paused:   c.paused,
		Canceled: c.canceled,
	}
	if !c.clock.IsZero() {
		s.Clock = c.clock.UnixNano()
	}
	table := map[peer.ID]int{}
	intern := func(p peer.ID) int {
		i, ok := table[p]
		if !ok {
			i = len(s.Peers)
			table[p] = i
			s.Peers = append(s.Peers, p)
		}
		return i
	}
	for i, t := range c.tasks {
		if !c.pristine(t) {
			s.State = append(s.State, c.snapTask(i, intern))
		}
	}
	var charged []peer.ID
	for p, n := range c.points {
		if n > 0 {
			charged = append(charged, p)
		}
	}
	slices.SortFunc(charged, func(a, b peer.ID) int { return strings.Compare(string(a), string(b)) })
	for _, p := range charged {
		s.Points = append(s.Points, peerPoints{intern(p), c.points[p]})
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encoding coordinator snapshot: %w", err)
	}
	return b, nil
}

// pristine reports whether a task is as in a fresh job.
func (c *Coordinator) pristine(t *task) bool {
	return t.status == tsOpen && len(t.replicas) == 0 && t.want == c.cfg.Replicas && t.quorum == c.cfg.Replicas &&
		!t.needEstablished && !t.reproduced && t.firstRender == 0 && t.refutes == 0 && t.crop.Empty() && !t.selfCheck && !t.racing
}

// snapTask encodes task i, naming peers through intern.
func (c *Coordinator) snapTask(i int, intern func(peer.ID) int) taskSnap {
	t := c.tasks[i]
	ts := taskSnap{I: i, Status: t.status, Credited: t.credited, Crop: newRect(t.crop)}
	if t.status == tsOpen {
		ts.Want, ts.Quorum = t.want, t.quorum
		ts.FirstRender, ts.NeedEstablished, ts.Reproduced = int64(t.firstRender), t.needEstablished, t.reproduced
		ts.Refutes, ts.ConsistentRefs = t.refutes, t.consistentRefutes
		ts.SelfCheck, ts.Racing = t.selfCheck, t.racing
	}
	if t.status == tsAccepted {
		ts.Result = newResSnap(t.result)
		for _, p := range t.agreeing {
			ts.Agreeing = append(ts.Agreeing, intern(p))
		}
		for _, p := range t.checkers {
			ts.Checkers = append(ts.Checkers, intern(p))
		}
	}
	pos := make(map[*replica]int, len(t.replicas))
	for k, r := range t.replicas {
		pos[r] = k
		rs := repSnap{
			ID: r.ID, Peer: intern(r.Peer), Prefix: r.prefix, Salt: r.Salt,
			Issued: r.Issued.UnixNano(), Expires: r.Expires.UnixNano(), State: r.state,
			Revealed: r.revealed && r.state == stCommitted, Crop: newRect(r.Crop),
		}
		if !r.commitBy.IsZero() {
			rs.CommitBy = r.commitBy.UnixNano()
		}
		if !r.deliverBy.IsZero() && r.state == stCommitted {
			rs.DeliverBy = r.deliverBy.UnixNano()
		}
		if r.state == stCommitted || r.state == stDelivered {
			cm := r.commitment
			rs.Commitment = &cm
		}
		if r.state == stDelivered {
			rs.Result = newResSnap(r.result)
		}
		ts.Replicas = append(ts.Replicas, rs)
	}
	for _, r := range t.delivered {
		ts.Delivered = append(ts.Delivered, pos[r])
	}
	return ts
}

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
	if ts.Quorum < 1 || ts.Quorum > ts.Want || ts.Want > c.cfg.MaxResults || ts.Want < c.cfg.Replicas {
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
	t.selfCheck, t.racing = ts.SelfCheck, ts.Racing
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
