package scheduler

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
	"github.com/renderswarm/renderswarm/job"
)

// Decisions a caller acts on. Lease's refusals say whether to ask again
// later (ErrNoWork, ErrPaused) or never (ErrBlocked, ErrJobDone).
var (
	ErrNoWork   = errors.New("no work for this peer right now")
	ErrBusy     = errors.New("peer holds as many leases of this job as it may")
	ErrBlocked  = errors.New("peer is blocklisted for this job")
	ErrJobDone  = errors.New("job is done")
	ErrCanceled = fmt.Errorf("%w: canceled", ErrJobDone) // errors.Is(ErrCanceled, ErrJobDone)
	ErrPaused   = errors.New("job is paused")

	ErrBadPeer            = errors.New("bad peer ID")
	ErrUnknownLease       = errors.New("unknown lease")
	ErrWrongPeer          = errors.New("lease belongs to another peer")
	ErrLeaseExpired       = errors.New("lease expired")
	ErrLeaseClosed        = errors.New("lease already closed")
	ErrNotCommitted       = errors.New("result delivered before a commitment")
	ErrNotRevealed        = errors.New("result delivered before every replica of its task committed")
	ErrAlreadyCommitted   = errors.New("lease holds another commitment")
	ErrCommitmentMismatch = errors.New("result does not open the lease's commitment")
	ErrBadResult          = errors.New("result has no asset CID")

	ErrUnknownTask = errors.New("task is not part of this job")
	ErrNotPending  = errors.New("task is not waiting for a decision")
	ErrBadDecision = errors.New("bad decision")
	ErrNotAccepted = errors.New("task has no accepted result")
)

// Failure weights towards the blocklist: a peer is blocklisted once its
// points reach failurePoints·MaxFailures.
const (
	failurePoints = 2 // expiry, failure, rejected result, lost vote
	releasePoints = 1 // voluntary hand-back (user paused)
)

// Lease is one replica of one task, leased to one peer until Expires.
type Lease struct {
	ID      string // unique within the job, also across Restore
	Task    job.Task
	Peer    peer.ID
	Salt    job.Salt // fresh per replica; the peer commits to Commit(Salt, digest)
	Issued  time.Time
	Expires time.Time
	// Crop, for a check replica, is the part of the task's tile (in frame
	// pixels) the peer renders, to be compared with the same pixels of
	// another peer's result; empty for a replica of the whole task.
	Crop image.Rectangle
}

// Result is a delivered replica: the asset CID of the rendered image and the
// pixel digest the publisher computed after fetching and decoding it.
type Result struct {
	CID    cid.Cid
	Digest job.PixelDigest
}

// Coordinator is the publisher's bookkeeping for one job. Its methods are
// safe for concurrent use; none blocks or starts a goroutine.
type Coordinator struct {
	mu          sync.Mutex
	cfg         Config
	rand        io.Reader
	tasks       []*task
	index       map[job.Task]int
	leases      map[string]*replica   // every replica of an open task
	active      map[*replica]struct{} // leased or committed
	holding     map[peer.ID]int       // leased, uncommitted replicas per peer
	nextExpiry  time.Time             // no active lease expires before this
	points      map[peer.ID]int       // failure points per peer
	prefixes    map[string]time.Time  // when a peer on this prefix last asked
	pending     map[int]struct{}      // tasks waiting for Resolve
	checking    map[int]time.Time     // tasks with a crop: since when a check replica is wanted and not out
	nextCheck   time.Time             // checking is not looked at before this
	dirty       map[int]struct{}      // tasks changed since the last Changes
	dirtyPoints map[peer.ID]struct{}  // peers whose failure points changed since the last Changes
	expired     []Lease               // since the last Expire call
	low         int                   // no task below this needs a replica
	epoch       string                // random lease-ID prefix of this process
	fingerprint string                // of the task list, for snapshots
	seq         uint64                // lease-ID counter, persisted
	clock       time.Time             // latest now seen, persisted
	paused      bool
	canceled    bool
	accepted    int
	failed      int
	// pace is each peer's render time of a whole task of this job, in
	// RenderTimes (a moving average, soft state); paceSum sums it.
	pace    map[peer.ID]float64
	paceSum float64
	// races lists the replicas LeaseBackup may race, as of racesAt.
	races   []race
	racesAt time.Time
	// idle is when each peer last asked LeaseBackup and got nothing else
	// (soft state); idleN counts those within idleWindow, as of racesAt.
	idle  map[peer.ID]time.Time
	idleN int
	// speeds is what peers say their speed is (NoteSpeed), soft state.
	speeds map[peer.ID]float64
	// drainFor is how long the job's whole-task work is expected to take
	// its peers (drainOK: known), as of drainAt.
	drainFor time.Duration
	drainOK  bool
	drainAt  time.Time
	// The tasks Uncredited and Suspects return, and every task's state
	// (grid, in work order, for StatesInOrder, with the count of those
	// rendering or verifying for Progress), kept as tasks change (sorted
	// out of watched, the tasks touched since, or of every task while
	// rescan is set): the publisher asks on every delivery, the web app
	// every second, and a scan of a 100,000-task job took most of a
	// millisecond (the grid's, with its task states, 10–30 ms).
	watched    map[int]struct{}
	rescan     bool
	uncredited map[int]struct{}
	suspects   map[int]struct{}
	grid       []gridState
	busy       int
}

// New returns a coordinator for a job with no work done yet.
func New(cfg Config) (*Coordinator, error) {
	tasks, deps, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	c := &Coordinator{
		cfg:         cfg,
		rand:        cfg.Rand,
		tasks:       make([]*task, len(tasks)),
		index:       make(map[job.Task]int, len(tasks)),
		leases:      make(map[string]*replica),
		active:      make(map[*replica]struct{}),
		holding:     make(map[peer.ID]int),
		points:      make(map[peer.ID]int),
		prefixes:    make(map[string]time.Time),
		pending:     make(map[int]struct{}),
		checking:    make(map[int]time.Time),
		dirty:       make(map[int]struct{}),
		dirtyPoints: make(map[peer.ID]struct{}),

		watched:    make(map[int]struct{}),
		rescan:     true,
		uncredited: make(map[int]struct{}),
		suspects:   make(map[int]struct{}),
		grid:       make([]gridState, len(tasks)),
	}
	if c.rand == nil {
		c.rand = rand.Reader
	}
	initial := cfg.Replicas
	for i, t := range tasks {
		c.tasks[i] = &task{t: t, want: initial, quorum: initial}
		c.index[t] = i
	}
	for i, ds := range deps {
		c.tasks[i].deps = ds
		for _, d := range ds {
			c.tasks[d].dependents = append(c.tasks[d].dependents, i)
		}
	}
	c.fingerprint = fingerprint(c.tasks)
	var e [8]byte
	if _, err := io.ReadFull(c.rand, e[:]); err != nil {
		return nil, fmt.Errorf("drawing lease ID epoch: %w", err)
	}
	c.epoch = hex.EncodeToString(e[:])
	return c, nil
}

// Lease hands peer p one replica of one task. prefix is p's network prefix
// (its /16 for public IPv4, /32 for IPv6) or "" when private, loopback or
// unknown. See the package documentation for the work order, replica
// placement and adaptive replication.
func (c *Coordinator) Lease(now time.Time, p peer.ID, prefix string) (Lease, error) {
	return c.lease(now, p, prefix, false)
}

func (c *Coordinator) lease(now time.Time, p peer.ID, prefix string, backup bool) (Lease, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := checkPeer(p); err != nil {
		return Lease{}, err
	}
	c.tick(now)
	switch {
	case c.canceled:
		return Lease{}, ErrCanceled
	case c.accepted+c.failed == len(c.tasks):
		return Lease{}, ErrJobDone
	case c.paused:
		return Lease{}, ErrPaused
	case c.blocked(p):
		return Lease{}, ErrBlocked
	case c.atCap(p):
		return Lease{}, ErrBusy
	}
	if prefix != "" {
		c.seePrefix(now, prefix)
	}
	i, err := c.pick(now, p, prefix)
	if err != nil {
		return Lease{}, err
	}
	if i >= 0 {
		crop := c.tasks[i].nextCrop()
		if crop.Empty() && c.tasks[i].unheld() && c.leaveToFaster(now, p) {
			return Lease{}, ErrNoWork // a task nobody holds a render of: any faster peer may take it
		}
		if !crop.Empty() && c.checkToFaster(now, i, p) {
			return Lease{}, ErrNoWork // a faster idle peer takes the check
		}
		return c.issue(now, i, p, prefix, crop)
	}
	if !backup {
		return Lease{}, ErrNoWork
	}
	c.noteIdle(now, p)
	slow, drop := c.straggler(now, p, prefix)
	if slow == nil {
		return Lease{}, ErrNoWork
	}
	if drop != nil {
		c.close(now, drop, stReleased, 0) // the race goes on without it
	}
	t := c.tasks[slow.task]
	t.want, t.racers = t.want+1, t.racers+1
	l, err := c.issue(now, slow.task, p, prefix, slow.Crop)
	if err != nil {
		t.want, t.racers = t.want-1, t.racers-1
		return l, err
	}
	c.leases[l.ID].backup = true
	return l, nil
}

// established reports whether p is past its probation (Standing).
func (c *Coordinator) established(p peer.ID) bool {
	return c.cfg.Standing != nil && !c.cfg.Standing(p).New()
}

// Slots is how many leases of the job p may hold uncommitted at once
// (MaxActive or MaxActiveNew); 0 means no bound.
func (c *Coordinator) Slots(p peer.ID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return max(c.capOf(p), 0)
}

// capOf is p's bound on uncommitted leases; 0 or less: none.
func (c *Coordinator) capOf(p peer.ID) int {
	if c.established(p) {
		return c.cfg.MaxActive
	}
	return c.cfg.MaxActiveNew
}

// atCap reports whether p holds as many leases not yet committed as it
// may. A committed lease no longer counts: its work is done, and it must
// deliver within DeliverWindow once its task lets it.
func (c *Coordinator) atCap(p peer.ID) bool {
	limit := c.capOf(p)
	return limit > 0 && c.holding[p] >= limit
}

// checkPeer accepts only peer IDs that survive their text form (peer.Decode
// of String), so every lease can be snapshotted and restored: an identity
// multihash or a 32-byte SHA2-256 one. It is the same test as the round
// trip, without the base58 cost.
func checkPeer(p peer.ID) error {
	if p == "" {
		return fmt.Errorf("%w: empty", ErrBadPeer)
	}
	dm, err := mh.Decode([]byte(p))
	if err != nil || !(dm.Code == mh.IDENTITY || dm.Code == mh.SHA2_256 && dm.Length == 32) {
		return fmt.Errorf("%w %q", ErrBadPeer, p.String())
	}
	return nil
}

// issue leases task i to p, of crop (empty: the whole task). It reads
// randomness before changing any state, so a failing Rand leaves the
// coordinator as it was.
func (c *Coordinator) issue(now time.Time, i int, p peer.ID, prefix string, crop image.Rectangle) (Lease, error) {
	t := c.tasks[i]
	// Under adaptive replication a new volunteer's task is replicated at
	// once; an established volunteer's waits for the coin, flipped when it
	// commits (see adaptiveCoin).
	replicate := c.cfg.Replicas == 1 && t.want < 2 && c.odds(p) >= 1
	salt, err := job.NewSalt(c.rand)
	if err != nil {
		return Lease{}, fmt.Errorf("leasing %s: %w", t.t, err)
	}
	if replicate {
		t.want, t.quorum = 2, 2
	}
	id := c.nextID()
	r := &replica{
		Lease: Lease{
			ID:      id,
			Task:    t.t,
			Peer:    p,
			Salt:    salt,
			Issued:  now,
			Expires: now.Add(c.cfg.LeaseTTL),
			Crop:    crop,
		},
		task:   i,
		prefix: prefix,
		state:  stLeased,
	}
	if t.firstRender > 0 {
		r.commitBy = c.commitDeadline(t, now)
	}
	t.replicas = append(t.replicas, r)
	c.leases[r.ID] = r
	c.activate(r)
	c.touch(i)
	return r.Lease, nil
}

// commitDeadline is when a replica of t leased or still uncommitted at
// from must commit, t's first replica having committed already:
// max(2·firstRender, RenderTime) + MinCommitWait later, never past the
// lease's MaxLease. Zero means no deadline (MinCommitWait negative).
func (c *Coordinator) commitDeadline(t *task, from time.Time) time.Time {
	if c.cfg.MinCommitWait < 0 {
		return time.Time{}
	}
	return from.Add(max(2*t.firstRender, c.cfg.RenderTime) + c.cfg.MinCommitWait)
}

// SetRenderTime sets Config.RenderTime, for deadlines set from now on.
func (c *Coordinator) SetRenderTime(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg.RenderTime = max(d, 0)
}

// nextID returns a lease ID unused in this job: the process's random epoch
// and a counter that Restore carries over.
func (c *Coordinator) nextID() string {
	for {
		c.seq++
		id := c.epoch + "-" + strconv.FormatUint(c.seq, 10)
		if _, dup := c.leases[id]; !dup {
			return id
		}
	}
}

func (c *Coordinator) activate(r *replica) {
	c.tasks[r.task].active++
	c.active[r] = struct{}{}
	if r.state == stLeased {
		c.holding[r.Peer]++
	}
	c.watch(r)
}

// unhold counts p's lease as no longer holding work: committed, or over.
func (c *Coordinator) unhold(p peer.ID) {
	if c.holding[p]--; c.holding[p] <= 0 {
		delete(c.holding, p)
	}
}

// watch makes tick look at r by its deadline.
func (c *Coordinator) watch(r *replica) {
	if d := r.deadline(); c.nextExpiry.IsZero() || d.Before(c.nextExpiry) {
		c.nextExpiry = d
	}
}

// deactivate takes r, in state was, out of the active set (delivered or
// closed).
func (c *Coordinator) deactivate(r *replica, was replicaState) {
	if _, ok := c.active[r]; !ok {
		return
	}
	c.tasks[r.task].active--
	delete(c.active, r)
	if was == stLeased {
		c.unhold(r.Peer)
	}
}

// tick records now and expires what is due. Every method that takes now
// calls it first.
func (c *Coordinator) tick(now time.Time) {
	if now.After(c.clock) {
		c.clock = now
	}
	if len(c.checking) > 0 && !now.Before(c.nextCheck) {
		c.checkWaits(now)
	}
	if c.nextExpiry.IsZero() || now.Before(c.nextExpiry) {
		return
	}
	c.nextExpiry = time.Time{}
	for r := range c.active {
		if !now.Before(r.deadline()) {
			c.close(now, r, stExpired, failurePoints)
			continue
		}
		c.watch(r)
	}
}

// close ends an active replica without a result and requeues its task.
// Its task's committed replicas may deliver once none is leased any more.
func (c *Coordinator) close(now time.Time, r *replica, st replicaState, points int) {
	was := r.state
	if t := c.tasks[r.task]; t.racers > 0 && was == stLeased && r.Crop.Empty() {
		t.racers-- // the race goes on without it
		t.want--
	}
	r.state = st
	c.deactivate(r, was)
	c.touch(r.task)
	c.revealable(c.tasks[r.task], now)
	c.low = min(c.low, r.task)
	c.charge(r.Peer, points)
	if st == stExpired {
		c.expired = append(c.expired, r.Lease)
	}
}

// charge adds n failure points to p (for Changes to persist).
func (c *Coordinator) charge(p peer.ID, n int) {
	if n == 0 {
		return
	}
	c.points[p] += n
	c.dirtyPoints[p] = struct{}{}
}

func (c *Coordinator) blocked(p peer.ID) bool {
	return c.points[p] >= failurePoints*c.cfg.MaxFailures
}
