package scheduler

import (
	"cmp"
	"errors"
	"fmt"
	"image"
	"io"
	"slices"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/job"
)

// Defaults and thresholds of the coordinator's policies (see the package
// documentation).
const (
	// DefaultMaxFailures is Config.MaxFailures when it is 0.
	DefaultMaxFailures = 3
	// DefaultMaxRenderFailures is Config.MaxRenderFailures when it is 0.
	DefaultMaxRenderFailures = 2
	// DefaultMaxResults is the least Config.MaxResults when it is 0.
	DefaultMaxResults = 5
	// NewVolunteerVerified and NewVolunteerJobs: a volunteer with fewer
	// verified results or fewer jobs than these is new, and every task it
	// renders is replicated under adaptive replication.
	NewVolunteerVerified = 20
	NewVolunteerJobs     = 3
	// MinReplicationOdds is the floor of the odds that an established
	// volunteer's task is replicated under adaptive replication.
	MinReplicationOdds = 0.05
	// LeaseSlack is added to twice the manifest's time limit by ConfigFor,
	// for fetching the scene and delivering the result.
	LeaseSlack = 10 * time.Minute
	// DefaultPickWindow is Config.PickWindow when it is 0.
	DefaultPickWindow = 16
	// DefaultReplicaGap is Config.ReplicaGap when it is 0.
	DefaultReplicaGap = 10 * time.Second
	// MinReplicaGap is the shortest gap a job of quick tasks gets (see
	// Config.ReplicaGap): still far longer than two requests sent back to
	// back are apart.
	MinReplicaGap = time.Second
	// DefaultMaxActiveNew and DefaultMaxActive are Config.MaxActiveNew and
	// Config.MaxActive when they are 0.
	DefaultMaxActiveNew = 1
	DefaultMaxActive    = 4
	// DefaultMinCommitWait is Config.MinCommitWait when it is 0.
	DefaultMinCommitWait = time.Minute
	// SlowFactor is how much slower than the reference machine the slow
	// volunteer of Config.RenderTime is.
	SlowFactor = 4
	// DefaultBackupAfter is Config.BackupAfter when it is 0.
	DefaultBackupAfter = time.Minute
	// DefaultCheckWait is Config.CheckWait when it is 0.
	DefaultCheckWait = time.Minute
	// DefaultDeliverWindow is Config.DeliverWindow when it is 0.
	DefaultDeliverWindow = time.Minute
)

// ErrBadConfig is wrapped by the errors New and Restore return for a Config
// they cannot use.
var ErrBadConfig = errors.New("bad coordinator config")

// Config describes one job to a Coordinator. Zero values are documented per
// field and filled in by New.
type Config struct {
	Job   cid.Cid    // the job ID; every task must belong to it
	Tasks []job.Task // the job's tasks in any order, no duplicates
	// Replicas is the manifest's replication policy: 2..job.MaxReplicas
	// means every task needs that many agreeing results from distinct
	// peers; 1 means adaptive replication (package documentation).
	Replicas int
	// LeaseTTL is how long a lease lives before it is requeued; required.
	// ConfigFor derives it from the manifest's time limit.
	LeaseTTL time.Duration
	// MaxLease caps how long Renew can keep one lease alive, counted from
	// its issue. A volunteer renews its lease while it works, so LeaseTTL
	// can be short (a vanished volunteer costs only that long) while a long
	// render is still allowed MaxLease. Values below LeaseTTL mean LeaseTTL:
	// no renewal.
	MaxLease time.Duration
	// MaxFailures is how many failures a peer may have in this job before
	// it is blocklisted for the job (package documentation says what
	// counts). 0 means DefaultMaxFailures.
	MaxFailures int
	// MaxRenderFailures is how many peers may hand a task back with Fail
	// (the renderer crashed, hung or refused the scene) before the task is
	// given up as failed: distinct machines failing on the same task point
	// at the scene, not at them. 0 means DefaultMaxRenderFailures.
	MaxRenderFailures int
	// MaxResults is how many results a task may collect before it is given
	// up as failed when they do not agree (the parts of a split render
	// count as one). 0 means max(DefaultMaxResults, Replicas+2); otherwise
	// at least Replicas+1.
	MaxResults int
	// Depends lists, per task, the tasks that must be accepted before it
	// can be leased. Optional; must be acyclic and name only the job's tasks.
	Depends map[job.Task][]job.Task
	// Standing reports a volunteer's record for adaptive replication. nil
	// treats every volunteer as new (every task replicated). It is called
	// from Lease and Commit with the coordinator's lock held: it must not call back
	// into the coordinator.
	Standing func(peer.ID) Standing
	// Check, under adaptive replication, chooses where an established
	// volunteer's result is checked when the coin leaves its task
	// unreplicated: another peer renders just that crop of the task (a
	// check replica, Lease.Crop) and the publisher compares it with the
	// same pixels of the result, so that every accepted result was seen by
	// two peers at the cost of a crop. It is called with the lock held, once
	// the result is committed, so nobody knows the crop before. nil, or an
	// empty rectangle: no check replica.
	Check func(job.Task) image.Rectangle
	// Split, under adaptive replication, cuts a task into pieces that
	// together cover its tile exactly: when the coin asks for a second
	// render of a task while peers stand idle (at least as many asked for
	// backups in the last half minute as there are replicas to race, and
	// as there are pieces), or once every task of the job is held, the
	// pieces are leased as check replicas instead, each to another peer,
	// and the task is decided on the first result and every piece. A
	// job's last frames then wait a fraction of a render for their check,
	// not a second render. It is asked for n pieces, as many as peers
	// stand idle (or, once every task is held, as many as hold a render of
	// another task) up to MaxParts, and may cut
	// fewer, at least two. The pieces count as one result
	// towards MaxResults, which must leave a slot for a further replica
	// (at least 3). Otherwise, or nil, a second replica of the whole task.
	Split func(t job.Task, n int) []image.Rectangle
	// BackupAfter: LeaseBackup races a replica nothing is known of (no
	// progress reported, its peer's pace unknown) only once it ran this
	// long and the reference machine's render (RenderTime ÷ SlowFactor);
	// one whose progress or pace says it is late, at once. 0 means
	// DefaultBackupAfter; negative, no backups.
	BackupAfter time.Duration
	// CheckWait is how long a task waits for another peer to take its check
	// replica; then the publisher checks the result itself
	// (TaskResults.SelfCheck). 0 means DefaultCheckWait.
	CheckWait time.Duration
	// Rand supplies salts, lease-ID epochs, the adaptive coin and the
	// placement draw. nil means crypto/rand; tests pass a deterministic
	// reader.
	Rand io.Reader

	// Placement and limits that Sybils and squatters cannot choose (package
	// documentation).

	// PickWindow is how many leasable tasks, from the front of the work
	// order, Lease draws from at random. 0 means DefaultPickWindow; 1 the
	// first one (strict work order).
	PickWindow int
	// ReplicaGap keeps the replicas of one task apart in time: while other
	// work exists, a task is not leased within ReplicaGap of its latest
	// replica. 0 means DefaultReplicaGap; negative, no gap. A job whose
	// tasks take less than the gap (RenderTime) gets RenderTime, at least
	// MinReplicaGap: a gap longer than a render would hold every finished
	// replica back from its reveal while the first replicas of the whole
	// job are handed out.
	ReplicaGap time.Duration
	// MaxActiveNew and MaxActive bound the leases one peer holds at once in
	// the job: a new peer (Standing.New) and an established one. 0 means
	// DefaultMaxActiveNew and DefaultMaxActive; negative, no bound.
	MaxActiveNew, MaxActive int
	// MinCommitWait: once one replica of a task has committed after
	// rendering for r, every other replica of it must commit within
	// 2r + MinCommitWait of that commit (or of its own lease, if later), or
	// its lease ends. 0 means DefaultMinCommitWait; negative, no deadline.
	MinCommitWait time.Duration
	// RenderTime is how long the publisher expects a task to take on a slow
	// volunteer, SlowFactor times slower than the reference machine (its
	// own measure of the task, not a volunteer's): the
	// other replicas of a task get at least this long to commit after the
	// first one did, so that a cheater committing junk at once cannot run
	// honest renderers out of time. Zero: only the first render's time
	// counts. SetRenderTime changes it once the job is priced.
	RenderTime time.Duration
	// DeliverWindow is how long a committed replica has to start
	// delivering once its task lets it (every replica committed or gone),
	// or its lease ends; CheckDelivery gives a delivery under way the time
	// its upload needs. 0 means DefaultDeliverWindow; negative, no
	// deadline.
	DeliverWindow time.Duration
}

// Standing is what the publisher knows of a volunteer (from credits): its
// verified results, the jobs they spanned, and its current run of valid
// results without a lost vote.
type Standing struct {
	Verified         int
	Jobs             int
	ConsecutiveValid int
}

// New reports whether the volunteer is still new: every task it renders is
// replicated.
func (s Standing) New() bool {
	return s.Verified < NewVolunteerVerified || s.Jobs < NewVolunteerJobs
}

// ReplicationOdds is the probability that a task leased to a volunteer
// with this standing is replicated under adaptive replication: 1 while it is
// new, then max(MinReplicationOdds, 1/ConsecutiveValid).
func (s Standing) ReplicationOdds() float64 {
	if s.New() || s.ConsecutiveValid <= 1 {
		return 1
	}
	return max(MinReplicationOdds, 1/float64(s.ConsecutiveValid))
}

// ConfigFor returns the Config for the job with ID id and manifest m: its
// tasks, replication policy and a lease TTL of twice the time limit per task
// plus LeaseSlack. Callers add Standing, Rand and Depends.
func ConfigFor(id cid.Cid, m job.Manifest) Config {
	return Config{
		Job:      id,
		Tasks:    m.Tasks(id),
		Replicas: m.Replicas,
		LeaseTTL: 2*time.Duration(m.Limits.MaxSecondsPerFrame)*time.Second + LeaseSlack,
	}
}

// normalize checks cfg and fills its defaults. It returns the tasks sorted
// in work order (frame, then tile) and each task's dependencies as indices
// into that order.
func (cfg *Config) normalize() ([]job.Task, [][]int, error) {
	if err := job.CheckID(cfg.Job); err != nil {
		return nil, nil, fmt.Errorf("%w: job: %v", ErrBadConfig, err)
	}
	if len(cfg.Tasks) == 0 {
		return nil, nil, fmt.Errorf("%w: no tasks", ErrBadConfig)
	}
	if cfg.Replicas < 1 || cfg.Replicas > job.MaxReplicas {
		return nil, nil, fmt.Errorf("%w: replicas %d outside 1..%d", ErrBadConfig, cfg.Replicas, job.MaxReplicas)
	}
	if cfg.LeaseTTL <= 0 {
		return nil, nil, fmt.Errorf("%w: lease TTL %v must be positive", ErrBadConfig, cfg.LeaseTTL)
	}
	if cfg.MaxFailures < 0 {
		return nil, nil, fmt.Errorf("%w: max failures %d is negative", ErrBadConfig, cfg.MaxFailures)
	}
	if cfg.MaxFailures == 0 {
		cfg.MaxFailures = DefaultMaxFailures
	}
	if cfg.MaxRenderFailures < 0 {
		return nil, nil, fmt.Errorf("%w: max render failures %d is negative", ErrBadConfig, cfg.MaxRenderFailures)
	}
	if cfg.MaxRenderFailures == 0 {
		cfg.MaxRenderFailures = DefaultMaxRenderFailures
	}
	if cfg.MaxResults == 0 {
		cfg.MaxResults = max(DefaultMaxResults, cfg.Replicas+2)
	}
	if cfg.MaxResults <= cfg.Replicas {
		return nil, nil, fmt.Errorf("%w: max results %d must exceed replicas %d", ErrBadConfig, cfg.MaxResults, cfg.Replicas)
	}
	if cfg.PickWindow < 0 {
		return nil, nil, fmt.Errorf("%w: pick window %d is negative", ErrBadConfig, cfg.PickWindow)
	}
	cfg.PickWindow = cmp.Or(cfg.PickWindow, DefaultPickWindow)
	cfg.ReplicaGap = cmp.Or(cfg.ReplicaGap, DefaultReplicaGap)
	cfg.MaxActiveNew = cmp.Or(cfg.MaxActiveNew, DefaultMaxActiveNew)
	cfg.MaxActive = cmp.Or(cfg.MaxActive, DefaultMaxActive)
	cfg.MinCommitWait = cmp.Or(cfg.MinCommitWait, DefaultMinCommitWait)
	cfg.DeliverWindow = cmp.Or(cfg.DeliverWindow, DefaultDeliverWindow)
	cfg.CheckWait = cmp.Or(cfg.CheckWait, DefaultCheckWait)
	cfg.BackupAfter = cmp.Or(cfg.BackupAfter, DefaultBackupAfter)
	tasks := slices.Clone(cfg.Tasks)
	slices.SortFunc(tasks, func(a, b job.Task) int {
		return cmp.Or(cmp.Compare(a.Frame, b.Frame), cmp.Compare(a.Tile, b.Tile))
	})
	index := make(map[job.Task]int, len(tasks))
	for i, t := range tasks {
		if !t.Job.Equals(cfg.Job) {
			return nil, nil, fmt.Errorf("%w: task %s is not of job %s", ErrBadConfig, t, cfg.Job)
		}
		if _, dup := index[t]; dup {
			return nil, nil, fmt.Errorf("%w: task %s listed twice", ErrBadConfig, t)
		}
		index[t] = i
	}
	deps, err := dependencyIndex(cfg.Depends, index, tasks)
	if err != nil {
		return nil, nil, err
	}
	return tasks, deps, nil
}

// dependencyIndex turns Depends into indices and rejects unknown tasks,
// self-dependencies and cycles.
func dependencyIndex(depends map[job.Task][]job.Task, index map[job.Task]int, tasks []job.Task) ([][]int, error) {
	if len(depends) == 0 {
		return nil, nil
	}
	deps := make([][]int, len(index))
	for t, ds := range depends {
		i, ok := index[t]
		if !ok {
			return nil, fmt.Errorf("%w: dependencies of unknown task %s", ErrBadConfig, t)
		}
		for _, d := range ds {
			j, ok := index[d]
			if !ok {
				return nil, fmt.Errorf("%w: task %s depends on unknown task %s", ErrBadConfig, t, d)
			}
			if !slices.Contains(deps[i], j) {
				deps[i] = append(deps[i], j)
			}
		}
	}
	// Iterative depth-first search for a cycle: 0 unvisited, 1 on the
	// stack, 2 done.
	mark := make([]uint8, len(deps))
	type frame struct{ node, next int }
	for start := range deps {
		if mark[start] != 0 {
			continue
		}
		stack := []frame{{start, 0}}
		mark[start] = 1
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next == len(deps[top.node]) {
				mark[top.node] = 2
				stack = stack[:len(stack)-1]
				continue
			}
			d := deps[top.node][top.next]
			top.next++
			switch mark[d] {
			case 1:
				return nil, fmt.Errorf("%w: dependency cycle through task %s", ErrBadConfig, tasks[d])
			case 0:
				mark[d] = 1
				stack = append(stack, frame{d, 0})
			}
		}
	}
	return deps, nil
}
