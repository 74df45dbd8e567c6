package publisher

import (
	"fmt"
	"slices"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/scheduler"
)

// Status is one published job's state and progress. Counts are per task
// (a task is a frame, or one tile of a frame when frames are split).
type Status struct {
	ID       cid.Cid
	Manifest job.Manifest
	State    scheduler.State
	Counts   scheduler.Counts
	ETA      time.Duration // 0 when unknown
	// Price is a task's price in milli-CU, by the publisher's own render;
	// a claim is capped at twice it. 0 until measured.
	Price int64
	// FirstLease is when this process handed out the job's first lease
	// (zero before).
	FirstLease time.Time
	Errors     []TaskError // latest failed renders, newest last
}

// TaskError is a render a volunteer reported as failed.
type TaskError struct {
	Task   job.Task
	Peer   peer.ID
	Reason string
	At     time.Time
}

// maxTaskErrors bounds the failed renders a job remembers for its status.
const maxTaskErrors = 20

// noteError remembers a failed render for the job's status. j.mu is held.
func (j *pubJob) noteError(e TaskError) {
	j.errors = append(j.errors, e)
	if len(j.errors) > maxTaskErrors {
		j.errors = j.errors[len(j.errors)-maxTaskErrors:]
	}
}

// Status reports one job.
func (p *Publisher) Status(id cid.Cid) (Status, error) {
	j, err := p.job(id)
	if err != nil {
		return Status{}, err
	}
	return p.status(j), nil
}

// List reports every job this node published, oldest first.
func (p *Publisher) List() []Status {
	var out []Status
	for _, j := range p.list() {
		out = append(out, p.status(j))
	}
	return out
}

func (p *Publisher) status(j *pubJob) Status {
	j.mu.Lock()
	defer j.mu.Unlock()
	c := j.coord.Progress()
	s := Status{
		ID: j.id, Manifest: j.m, State: j.coord.State(), Counts: c,
		FirstLease: j.firstLease, Errors: slices.Clone(j.errors), Price: j.price,
	}
	left := c.Total - c.Verified - c.Failed
	if c.Verified > 0 && !j.firstLease.IsZero() && left > 0 {
		per := p.clock.Now().Sub(j.firstLease) / time.Duration(c.Verified)
		s.ETA = per * time.Duration(left)
	}
	return s
}

// Done reports whether every task of a job is decided, or it was
// canceled.
func (s Status) Done() bool {
	return s.State == scheduler.StateCompleted || s.State == scheduler.StateFailed || s.State == scheduler.StateCanceled
}

// FrameState is one frame of a published job: its tiles' states merged.
type FrameState struct {
	Frame    int
	State    scheduler.TaskState
	Progress float64 // mean render progress of its open leases, 0..1
	Error    string  // the latest failed render's reason
}

// Frames reports every frame of a job. The job's lock is held only to
// read its leases' progress and errors: the tasks' states come from the
// coordinator, under its own lock, so a 100,000-frame grid does not hold
// deliveries back.
func (p *Publisher) Frames(id cid.Cid) ([]FrameState, error) {
	j, err := p.job(id)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	coord := j.coord
	progress := map[int][]float64{}
	for lease, f := range j.progress {
		if t, ok := coord.LeaseTask(lease); ok {
			progress[t.Frame] = append(progress[t.Frame], f.done)
		}
	}
	lastErr := map[int]string{}
	for _, e := range j.errors {
		lastErr[e.Task.Frame] = e.Reason
	}
	j.mu.Unlock()
	// Work order is by frame, then tile: each frame's tiles are a run.
	states := coord.StatesInOrder()
	frames, tiles := j.m.Frames.Frames(), j.m.TileCount()
	if len(states) != len(frames)*tiles {
		return nil, fmt.Errorf("job %s has %d tasks, not %d frames of %d tiles", id, len(states), len(frames), tiles)
	}
	out := make([]FrameState, len(frames))
	for k, f := range frames {
		fs := FrameState{Frame: f, Error: lastErr[f], State: mergeStates(states[k*tiles : (k+1)*tiles])}
		if v := progress[f]; len(v) > 0 {
			var sum float64
			for _, x := range v {
				sum += x
			}
			fs.Progress = sum / float64(len(v))
		}
		out[k] = fs
	}
	return out, nil
}

// mergeStates is a frame's state from its tiles': failed if any failed,
// verified if all are, else the busiest of rendering, verifying, queued.
func mergeStates(tiles []scheduler.TaskState) scheduler.TaskState {
	for _, s := range []scheduler.TaskState{scheduler.TaskFailed, scheduler.TaskRendering, scheduler.TaskVerifying} {
		if slices.Contains(tiles, s) {
			return s
		}
	}
	if slices.Contains(tiles, scheduler.TaskQueued) {
		if slices.Contains(tiles, scheduler.TaskVerified) {
			return scheduler.TaskRendering // partly done
		}
		return scheduler.TaskQueued
	}
	return scheduler.TaskVerified
}

// Contributions counts, per volunteer, the results of a job that were
// accepted (agreeing with the accepted result of their task).
func (p *Publisher) Contributions(id cid.Cid) (map[peer.ID]int, error) {
	j, err := p.job(id)
	if err != nil {
		return nil, err
	}
	out := map[peer.ID]int{}
	for _, t := range j.m.Tasks(j.id) {
		j.mu.Lock()
		_, peers, ok := j.coord.Accepted(t)
		j.mu.Unlock()
		for _, v := range peers {
			if ok {
				out[v]++
			}
		}
	}
	return out, nil
}
