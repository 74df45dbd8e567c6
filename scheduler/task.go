package scheduler

import (
	"image"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/job"
)

// A task of the job and its replicas, as the coordinator keeps them.

type replicaState uint8

const (
	stLeased    replicaState = iota + 1 // issued, no commitment yet
	stCommitted                         // commitment received
	stDelivered                         // result received and opens the commitment
	stExpired                           // not delivered in time
	stFailed                            // handed back as failed, or result rejected
	stReleased                          // handed back voluntarily
	stCrashed                           // handed back with Fail by an established peer: the render failed
	stFailedNew                         // handed back with Fail by a new peer: not counted against the task
	stLast      = stFailedNew
)

type replica struct {
	Lease
	task       int
	prefix     string
	state      replicaState
	commitment job.Commitment
	result     Result
	commitBy   time.Time // leased: commit by then, once another replica has (zero: no deadline yet)
	deliverBy  time.Time // committed: deliver by then, once its task lets it (zero: not yet)
	revealed   bool      // committed: told to deliver
	backup     bool      // leased by LeaseBackup
	// done is the render's progress its peer last reported, at doneAt
	// (leased; soft state, for LeaseBackup).
	done   float32
	doneAt time.Time
}

// deadline is when an active replica ends unless renewed, committed or
// delivered.
func (r *replica) deadline() time.Time {
	d := r.Expires
	if r.state == stLeased && !r.commitBy.IsZero() && r.commitBy.Before(d) {
		d = r.commitBy
	}
	if r.state == stCommitted && !r.deliverBy.IsZero() && r.deliverBy.Before(d) {
		d = r.deliverBy
	}
	return d
}

func (r *replica) active() bool { return r.state == stLeased || r.state == stCommitted }

type taskStatus uint8

const (
	tsOpen taskStatus = iota
	tsAccepted
	tsFailed
)

type task struct {
	t          job.Task
	deps       []int
	dependents []int
	want       int // replicas wanted in total so far
	quorum     int // agreeing results needed
	status     taskStatus
	replicas   []*replica // every replica issued, in order; nil once terminal
	delivered  []*replica // in delivery order; nil once terminal
	active     int        // replicas leased or committed
	// firstRender is how long the task's first committed replica took from
	// its lease to its commitment; it sets the other replicas' commit
	// deadlines. 0 until then.
	firstRender time.Duration
	// needEstablished: the next replica must go to an established peer (a
	// result could not be crop-checked).
	needEstablished bool
	// crop is where the task's result is checked by another peer (a check
	// replica renders just these pixels), chosen when its first replica
	// committed; empty when the task has no check replica.
	crop image.Rectangle
	// parts, when the coin asked for a second render of the task while
	// peers stood idle, are the pieces (Config.Split) that render it
	// instead, one check replica each: every pixel of the result is seen
	// by another peer, in a fraction of the time. nil otherwise.
	parts []image.Rectangle
	// splitAt is when parts were cut (soft state: zero after a restart).
	splitAt time.Time
	// selfCheck: no other peer took the task's check replica within
	// CheckWait; the publisher checks the result itself.
	selfCheck bool
	// racers counts the backup replicas leased beside stragglers
	// (LeaseBackup) that are still out: want includes them. Each
	// commitment while the task races withdraws the replica out due last
	// (endRace).
	racers int
	// reproduced: the publisher rendered the task itself after new peers
	// reported it failing, and it did not fail.
	reproduced bool
	// refutes counts the task's results the publisher's own render
	// disproved; consistentRefutes the Refute decisions whose refuted
	// results agreed with each other.
	refutes, consistentRefutes int
	// Once accepted:
	result   Result
	agreeing []peer.ID
	checkers []peer.ID // of agreeing, the peers of check replicas (they rendered crop, or one of parts)
	credited bool
}

func (t *task) needsReplica() bool {
	return t.status == tsOpen && t.active+len(t.delivered) < t.want
}

func (t *task) triedBy(p peer.ID) bool {
	for _, r := range t.replicas {
		if r.Peer == p {
			return true
		}
	}
	return false
}

// leased reports whether a replica of the task is leased and not yet
// committed.
func (t *task) leased() bool {
	for _, r := range t.replicas {
		if r.state == stLeased {
			return true
		}
	}
	return false
}

// lastIssued is when the task's latest replica was leased (zero if none).
func (t *task) lastIssued() time.Time {
	var last time.Time
	for _, r := range t.replicas {
		if r.Issued.After(last) {
			last = r.Issued
		}
	}
	return last
}

func (t *task) onPrefix(prefix string) bool {
	for _, r := range t.replicas {
		if r.prefix == prefix && (r.active() || r.state == stDelivered) {
			return true
		}
	}
	return false
}

// unheld reports whether nobody holds a render of t: no replica is out
// and none delivered (those issued were all lost, or none was issued).
// Whoever lost one may not take it again, but any other peer may.
func (t *task) unheld() bool { return t.active == 0 && len(t.delivered) == 0 }
