package scheduler

import (
	"errors"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Counts is a job's progress, one count per task; the counts add up to
// Total.
type Counts struct {
	Total     int
	Verified  int // accepted
	Rendering int // replicas leased or delivered, no decision yet
	Failed    int // given up, or depending on a failed task
	Queued    int // waiting for a volunteer
}

// State is a job's state as the status command reports it.
type State string

// States of a job.
const (
	StateQueued    State = "queued"
	StateRunning   State = "running"
	StatePaused    State = "paused"
	StateCompleted State = "completed" // every task accepted
	StateFailed    State = "failed"    // every task decided, some failed
	StateCanceled  State = "canceled"
)

// ErrCannotResume is returned by Resume for a canceled job.
var ErrCannotResume = errors.New("a canceled job cannot be resumed")

// Progress counts the tasks by state.
func (c *Coordinator) Progress() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sortWatched()
	n := Counts{Total: len(c.tasks), Verified: c.accepted, Failed: c.failed, Rendering: c.busy}
	n.Queued = n.Total - n.Verified - n.Failed - n.Rendering
	return n
}

// Done reports whether every task is accepted or failed, or the job is
// canceled.
func (c *Coordinator) Done() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.canceled || c.accepted+c.failed == len(c.tasks)
}

// State returns the job's state.
func (c *Coordinator) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.canceled:
		return StateCanceled
	case c.accepted+c.failed == len(c.tasks) && c.failed > 0:
		return StateFailed
	case c.accepted == len(c.tasks):
		return StateCompleted
	case c.paused:
		return StatePaused
	case c.seq > 0 || c.accepted+c.failed > 0:
		return StateRunning
	}
	return StateQueued
}

// Pause stops new leases (Lease returns ErrPaused). Leases already out stay
// valid: their results are still taken and decided.
func (c *Coordinator) Pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = true
}

// Resume lets Lease hand out work again.
func (c *Coordinator) Resume() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.canceled {
		return ErrCannotResume
	}
	c.paused = false
	return nil
}

// Cancel ends the job for good: Lease, Commit and Deliver return
// ErrCanceled. Accepted results stay readable.
func (c *Coordinator) Cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.canceled = true
}

// Blocked reports whether p is blocklisted for this job.
func (c *Coordinator) Blocked(p peer.ID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blocked(p)
}

// TaskState is one task's place in its life, for frame grids.
type TaskState string

// Task states.
const (
	TaskQueued    TaskState = "queued"    // waiting for a volunteer
	TaskRendering TaskState = "rendering" // a replica is leased
	TaskVerifying TaskState = "verifying" // results delivered, more wanted or not compared yet
	TaskVerified  TaskState = "verified"  // accepted
	TaskFailed    TaskState = "failed"    // given up
)

// StatesInOrder reports every task's state in work order: by frame, then
// by tile. The web app asks for a job's grid every second while it shows
// it: the states are kept as tasks change (sortWatched), one byte each.
func (c *Coordinator) StatesInOrder() []TaskState {
	c.mu.Lock()
	c.sortWatched()
	grid := slices.Clone(c.grid)
	c.mu.Unlock()
	out := make([]TaskState, len(grid))
	for i, g := range grid {
		out[i] = gridStates[g]
	}
	return out
}

// gridState is a TaskState in a byte.
type gridState uint8

const (
	gridQueued gridState = iota
	gridRendering
	gridVerifying
	gridVerified
	gridFailed
)

var gridStates = [...]TaskState{
	gridQueued: TaskQueued, gridRendering: TaskRendering, gridVerifying: TaskVerifying,
	gridVerified: TaskVerified, gridFailed: TaskFailed,
}

// busy is 1 for a task Progress counts as rendering: leased, or
// delivered and not yet decided.
func (g gridState) busy() int {
	if g == gridRendering || g == gridVerifying {
		return 1
	}
	return 0
}

func (t *task) gridState() gridState {
	switch {
	case t.status == tsAccepted:
		return gridVerified
	case t.status == tsFailed:
		return gridFailed
	case t.active > 0:
		return gridRendering
	case len(t.delivered) > 0:
		return gridVerifying
	default:
		return gridQueued
	}
}
