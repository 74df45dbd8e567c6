package scheduler

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"slices"
	"strings"

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
	FirstRender     int64  `json:"fr,omitempty"`
	NeedEstablished bool   `json:"ne,omitempty"`
	Reproduced      bool   `json:"rp,omitempty"`
	Refutes         int    `json:"rf,omitempty"`
	ConsistentRefs  int    `json:"crf,omitempty"`
	Crop            *rect  `json:"crop,omitempty"`
	Parts           []rect `json:"parts,omitempty"` // a second render split in check replicas
	SelfCheck       bool   `json:"sc,omitempty"`
	Racing          bool   `json:"race,omitempty"`   // Racers > 0, for versions that know no count
	Racers          int    `json:"racers,omitempty"` // 0 with Racing: one
	Checkers        []int  `json:"chk,omitempty"`    // of Agreeing, those that rendered only Crop
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
	Backup     bool            `json:"bk,omitempty"`
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
		!t.needEstablished && !t.reproduced && t.firstRender == 0 && t.refutes == 0 && t.crop.Empty() && len(t.parts) == 0 && !t.selfCheck && t.racers == 0
}

// snapTask encodes task i, naming peers through intern.
func (c *Coordinator) snapTask(i int, intern func(peer.ID) int) taskSnap {
	t := c.tasks[i]
	ts := taskSnap{I: i, Status: t.status, Credited: t.credited, Crop: newRect(t.crop)}
	for _, part := range t.parts {
		ts.Parts = append(ts.Parts, *newRect(part))
	}
	if t.status == tsOpen {
		ts.Want, ts.Quorum = t.want, t.quorum
		ts.FirstRender, ts.NeedEstablished, ts.Reproduced = int64(t.firstRender), t.needEstablished, t.reproduced
		ts.Refutes, ts.ConsistentRefs = t.refutes, t.consistentRefutes
		ts.SelfCheck, ts.Racing, ts.Racers = t.selfCheck, t.racers > 0, t.racers
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
			Revealed: r.revealed && r.state == stCommitted, Crop: newRect(r.Crop), Backup: r.backup,
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
