package publisher

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/renderswarm/renderswarm/assets"
	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/clock"
	"github.com/renderswarm/renderswarm/internal/peerrate"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/scheduler"
	"github.com/renderswarm/renderswarm/work"
)

// Assets is what the publisher needs of the asset store: share a scene
// and accepted results, name a result before sharing it, find a stored
// asset's files.
type Assets interface {
	Add(ctx context.Context, paths []string) (assets.Info, error)
	// AddLater is Add, announcing the asset on the DHT later, at a
	// bounded rate: for results, which nobody looks for while the job
	// runs (the publisher serves them itself).
	AddLater(ctx context.Context, paths []string) (assets.Info, error)
	// Identify returns the CID Add would give the files under root as an
	// asset named name, without storing or sharing anything.
	Identify(root, name string) (cid.Cid, error)
	// IdentifyFile is Identify of a folder holding only the file name,
	// with contents data.
	IdentifyFile(name string, data []byte) (cid.Cid, error)
	Path(c cid.Cid) (string, error)
}

// Network is what the publisher needs of the libp2p node: announce jobs,
// and see where a volunteer connects from.
type Network interface {
	Publish(ctx context.Context, topic string, data []byte) error
	RemoteAddrs(p peer.ID) []ma.Multiaddr
}

// Config configures a Publisher. Zero values are documented per field.
type Config struct {
	Key    crypto.PrivKey  // the node's identity; required
	DB     *sql.DB         // the node's database, for the job store; required
	Assets Assets          // required
	Net    Network         // required
	Ledger *credits.Ledger // the node's ledger: receipts and standings; required
	// Backends by renderer name, and Infos of those that work here (their
	// exact versions and capabilities).
	Backends map[string]render.Backend
	Infos    map[string]render.Info
	WorkDir  string // scratch space for packing and crop checks; required
	// ResultsDir keeps delivered results until they are decided; it must
	// survive restarts. Required.
	ResultsDir string
	// Speed is this machine's speed relative to the reference machine, by
	// which the publisher prices its tasks; 0 means 1.
	Speed  float64
	Clock  clock.Clock // nil: the wall clock
	Logger *slog.Logger
	// Tune, if set, adjusts each job's coordinator configuration (tests and
	// benchmarks use it).
	Tune func(*scheduler.Config)
}

// Publisher coordinates the jobs this node published.
type Publisher struct {
	cfg      Config
	self     peer.ID
	log      *slog.Logger
	clock    clock.Clock
	jobs     *jobStore
	standing *standings
	pairs    *pairs

	limits *peerrate.Buckets // lease requests per peer (newLimiter)

	// cropRenders holds a token per crop being rendered, across jobs: one
	// per core, however many tasks are verified at once.
	cropRenders chan struct{}
	shares      *sharer // accepted results to add to the asset store
	decoded     decoded // delivered results as decoded at delivery, until decided

	mu      sync.Mutex
	active  map[cid.Cid]*pubJob
	added   chan struct{} // signalled when a job is published: Run starts its verifier
	lastSeq int64         // of the latest announcement
}

// ErrUnknownJob means this node did not publish the job asked about.
var ErrUnknownJob = errors.New("this node did not publish that job")

// New opens the job store (migrating it) and restores the jobs published
// before the node last stopped. It starts nothing: Run does.
func New(ctx context.Context, cfg Config) (*Publisher, error) {
	if cfg.Key == nil || cfg.DB == nil || cfg.Assets == nil || cfg.Net == nil || cfg.Ledger == nil || cfg.WorkDir == "" || cfg.ResultsDir == "" {
		return nil, errors.New("publisher: Key, DB, Assets, Net, Ledger, WorkDir and ResultsDir are required")
	}
	if cfg.Speed == 0 {
		cfg.Speed = 1
	}
	self, err := peer.IDFromPrivateKey(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("publisher identity: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Clock = clock.Or(cfg.Clock)
	store, err := openJobStore(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	p := &Publisher{
		cfg: cfg, self: self, log: cfg.Logger, clock: cfg.Clock, jobs: store,
		standing: newStandings(cfg.Ledger),
		pairs:    &pairs{store: store, n: map[[2]string]int{}},
		limits:   newLimiter(),
		active:   map[cid.Cid]*pubJob{},

		cropRenders: make(chan struct{}, runtime.GOMAXPROCS(0)),
		shares:      newSharer(),
		added:       make(chan struct{}, 1),
	}
	if err := p.load(); err != nil {
		return nil, err
	}
	return p, nil
}

// pubJob is one published job and its coordinator. mu serialises the
// coordinator's changes with their persistence.
type pubJob struct {
	id        cid.Cid
	m         job.Manifest
	signed    []byte
	price     int64         // milli-CU of a task, by the publisher's own measure
	delivered chan struct{} // signalled at each delivery: the verifier looks

	mu         sync.Mutex
	coord      *scheduler.Coordinator
	changed    chan struct{} // closed and replaced at every change: awaiting volunteers look
	firstLease time.Time
	leased     int                            // leases handed out by this process
	claims     map[job.Task]map[peer.ID]int64 // milli-CU claimed per delivered result, capped
	costs      credits.JobCosts               // the capped claims of accepted results
	progress   map[string]progress            // per open lease, from heartbeats (in memory)
	errors     []TaskError                    // latest renders reported failed, newest last (in memory)
	unsaved    []claimRow                     // claims and meetings to write with the next change

	idle idlers // told lately there was no work for them (when to ask again)
}

// progress is a lease's latest heartbeat.
type progress struct {
	done  float64   // 0..1
	since time.Time // when done last grew
}

func newPubJob(id cid.Cid, m job.Manifest, signed []byte, price int64, coord *scheduler.Coordinator) *pubJob {
	if price > 0 {
		coord.SetRenderTime(slowRender(price))
	}
	return &pubJob{
		id: id, m: m, signed: signed, price: price, coord: coord, delivered: make(chan struct{}, 1),
		changed: make(chan struct{}), claims: map[job.Task]map[peer.ID]int64{}, progress: map[string]progress{},
		costs: credits.JobCosts{Cap: priceCap(price)},
	}
}

// claimCap is the most a volunteer may claim for a task priced at price:
// twice the publisher's own estimate (DESIGN.md §6).
func claimCap(price int64) int64 { return max(2*price, 1) }

// priceCap is JobCosts.Cap for a price: none until the job is priced.
func priceCap(price int64) int64 {
	if price <= 0 {
		return 0
	}
	return claimCap(price)
}

// wake tells the job's verifier that something was delivered.
func (j *pubJob) wake() {
	select {
	case j.delivered <- struct{}{}:
	default:
	}
}

// coordConfig is the coordinator configuration of a job: short leases kept
// alive by heartbeats, up to the job's time limit plus time to fetch.
func (p *Publisher) coordConfig(id cid.Cid, m job.Manifest) scheduler.Config {
	cfg := scheduler.ConfigFor(id, m)
	cfg.LeaseTTL = work.LeaseTTL
	cfg.MaxLease = time.Duration(m.Limits.MaxSecondsPerFrame)*time.Second + fetchAllowance
	cfg.Standing = p.standing.of
	cfg.Check = func(t job.Task) image.Rectangle { return randomCrop(m.TileRect(t.Tile)) }
	cfg.Split = func(t job.Task, n int) []image.Rectangle { return splitTile(m.TileRect(t.Tile), n) }
	if m.First.Len() > 0 {
		// Every other task waits for every task of the first frames.
		var first []job.Task
		for _, t := range cfg.Tasks {
			if m.First.Contains(t.Frame) {
				first = append(first, t)
			}
		}
		cfg.Depends = map[job.Task][]job.Task{}
		for _, t := range cfg.Tasks {
			if !m.First.Contains(t.Frame) {
				cfg.Depends[t] = first
			}
		}
	}
	if p.cfg.Tune != nil {
		p.cfg.Tune(&cfg)
	}
	return cfg
}

// fetchAllowance is added to a job's time limit per task for fetching the
// scene, since the lease covers that too.
const fetchAllowance = 10 * time.Minute

// load restores the jobs this node published before it last stopped.
func (p *Publisher) load() error {
	stored, err := p.jobs.all()
	if err != nil {
		return err
	}
	for _, s := range stored {
		m, sm, err := job.OpenManifest(s.Signed)
		if err != nil {
			return fmt.Errorf("job %s in the database: %w", s.ID, err)
		}
		coord, err := restore(p.coordConfig(sm.ID(), m), s, p.clock.Now())
		if err != nil {
			return fmt.Errorf("restoring job %s: %w", s.ID, err)
		}
		j := newPubJob(sm.ID(), m, s.Signed, s.Price, coord)
		if j.claims, err = p.jobs.claims(s.ID); err != nil {
			return err
		}
		for t, byPeer := range j.claims {
			if _, peers, ok := coord.Accepted(t); ok {
				for _, v := range peers {
					j.costs.Pay(byPeer[v])
				}
			}
			if coord.Credited(t) {
				delete(j.claims, t) // paid, and priced above
			}
		}
		p.active[sm.ID()] = j
		if err := p.jobs.w.wait(p.save(j), p.clock.Now()); err != nil { // an older snapshot becomes rows
			return err
		}
		if err := p.shareLeftovers(j); err != nil {
			return err
		}
		p.log.Info("jobRestored", "job", s.ID, "state", coord.State(), "price", s.Price, "tasks", len(s.Rows))
	}
	return nil
}

func (p *Publisher) job(id cid.Cid) (*pubJob, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	j, ok := p.active[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownJob, id)
	}
	return j, nil
}

// list returns the jobs, oldest first.
func (p *Publisher) list() []*pubJob {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*pubJob, 0, len(p.active))
	for _, j := range p.active {
		out = append(out, j)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].m.Created < out[b].m.Created })
	return out
}

// restore rebuilds a stored job's coordinator: from its header and task
// rows, or from a whole snapshot of an older version.
func restore(cfg scheduler.Config, s storedJob, now time.Time) (*scheduler.Coordinator, error) {
	var v struct {
		Version int `json:"v"`
	}
	if err := json.Unmarshal(s.Header, &v); err == nil && v.Version == scheduler.SnapshotVersion && len(s.Rows) == 0 {
		return scheduler.Restore(cfg, s.Header, now)
	}
	return scheduler.RestoreRows(cfg, s.Header, s.Rows, s.Points, now)
}

// save queues a job's coordinator changes for writing; call it with j.mu
// held, and wait for the write (p.jobs.w.wait) after releasing it.
func (p *Publisher) save(j *pubJob) *change {
	ch, err := j.coord.Changes()
	if err != nil {
		return &change{done: true, err: err}
	}
	rows := j.unsaved
	j.unsaved = nil
	return p.jobs.w.enqueue(j.id.String(), ch, rows)
}

// persist waits until a saved change is written.
func (p *Publisher) persist(c *change) error { return p.jobs.w.wait(c, p.clock.Now()) }

// update runs f on a job with its lock held, persists the result and
// tells those awaiting a change.
func (p *Publisher) update(j *pubJob, f func() error) error {
	j.mu.Lock()
	err := f()
	saved := p.save(j)
	j.notify()
	j.mu.Unlock()
	if perr := p.persist(saved); err == nil {
		err = perr
	}
	return err
}

// notify wakes what waits for the job to change; call with j.mu held.
func (j *pubJob) notify() {
	close(j.changed)
	j.changed = make(chan struct{})
}

// Run re-announces open jobs, notes expired leases, and runs one verifier
// per job until ctx ends; it returns once they have all stopped.
func (p *Publisher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	announce := p.clock.NewTicker(work.AnnounceEvery)
	defer announce.Stop()
	expire := p.clock.NewTicker(time.Second)
	defer expire.Stop()
	verifying := map[cid.Cid]bool{}
	startVerifiers := func() {
		for _, j := range p.list() {
			if !verifying[j.id] {
				verifying[j.id] = true
				wg.Add(1)
				go func() {
					defer wg.Done()
					p.verifier(ctx, j)
				}()
			}
		}
	}
	startVerifiers()
	wg.Go(func() { p.shareQueued(ctx) })
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.added:
			startVerifiers()
		case <-announce.C():
			// The oldest open jobs, within the budget every node allows
			// a publisher (work.AnnounceBudget).
			n := 0
			for _, j := range p.list() {
				if n < work.MaxOffersPerPublisher && p.announce(ctx, j) {
					n++
				}
			}
		case <-expire.C():
			for _, j := range p.list() {
				p.expire(j)
			}
			p.limits.Prune(p.clock.Now())
		}
	}
}

// expire requeues a job's expired leases and persists the change.
func (p *Publisher) expire(j *pubJob) {
	j.mu.Lock()
	defer j.mu.Unlock()
	expired := j.coord.Expire(p.clock.Now())
	if len(expired) == 0 {
		return
	}
	for _, l := range expired {
		delete(j.progress, l.ID)
	}
	j.notify()
	p.log.Info("leasesExpired", "job", j.id, "count", len(expired))
	saved := p.save(j)
	j.mu.Unlock()
	if err := p.persist(saved); err != nil {
		p.log.Error("jobNotSaved", "job", j.id, "err", err)
	}
	j.mu.Lock() // for the deferred unlock
}

// announce gossips a running or paused job; it reports whether the job
// is one to announce.
func (p *Publisher) announce(ctx context.Context, j *pubJob) bool {
	j.mu.Lock()
	state, counts := j.coord.State(), j.coord.Progress()
	j.mu.Unlock()
	if state != scheduler.StateRunning && state != scheduler.StatePaused && state != scheduler.StateQueued {
		return false
	}
	wire := "running"
	if state == scheduler.StatePaused {
		wire = "paused"
	}
	data, err := work.Encode(work.Announcement{Manifest: j.signed, State: wire,
		TasksLeft: counts.Total - counts.Verified - counts.Failed, Seq: p.nextSeq()})
	if err == nil {
		err = p.cfg.Net.Publish(ctx, work.JobsTopic, data)
	}
	if err != nil {
		p.log.Warn("announceFailed", "job", j.id, "err", err)
	}
	return true
}

// nextSeq numbers announcements: the publisher's clock in microseconds,
// kept increasing within the process, so a volunteer can tell the later of
// two announcements of a job also across the publisher's restarts.
func (p *Publisher) nextSeq() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastSeq = max(p.clock.Now().UnixMicro(), p.lastSeq+1)
	return p.lastSeq
}

// Action is a control an artist applies to a job.
type Action string

// Actions.
const (
	Pause  Action = "pause"
	Resume Action = "resume"
	Cancel Action = "cancel"
)

// ErrCannotResume is returned when resuming a canceled job.
var ErrCannotResume = scheduler.ErrCannotResume

// Control pauses, resumes or cancels a job, and announces its new state.
func (p *Publisher) Control(ctx context.Context, id cid.Cid, a Action) error {
	j, err := p.job(id)
	if err != nil {
		return err
	}
	err = p.update(j, func() error {
		switch a {
		case Pause:
			j.coord.Pause()
		case Resume:
			return j.coord.Resume()
		case Cancel:
			j.coord.Cancel()
		default:
			return fmt.Errorf("unknown action %q (want pause, resume or cancel)", a)
		}
		return nil
	})
	if err == nil {
		p.announce(ctx, j)
	}
	return err
}
