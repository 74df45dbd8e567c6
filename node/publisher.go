package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/assets"
	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/p2p"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/scheduler"
)

// announceEvery is how often open jobs are re-announced, so that nodes that
// join late hear of them (pub/sub is lossy; streams are the truth).
const announceEvery = 10 * time.Second

// leaseTTL is how long a lease lives without a heartbeat: a volunteer
// that vanishes costs this long. Volunteers renew every leaseTTL/4.
const leaseTTL = 20 * time.Second

// fetchAllowance is added to a job's time limit per task for fetching the
// scene, since the lease covers that too.
const fetchAllowance = 10 * time.Minute

// reasonStopped marks a lease handed back because the volunteer stopped or
// paused: it counts lighter than a failure.
const reasonStopped = "volunteer stopped"

// publisher coordinates the jobs this node published: it answers the work
// protocol, verifies results and keeps every job's state in the database.
type publisher struct {
	key      crypto.PrivKey
	self     peer.ID
	net      *p2p.Node
	store    *assets.Store
	backends map[string]render.Backend
	versions map[string]string
	infos    map[string]render.Info // what each working renderer can do
	jobs     *jobStore
	ledger   *credits.Ledger
	workDir  string
	log      *slog.Logger
	now      func() time.Time
	standing *standings              // adaptive replication's view of volunteers
	tune     func(*scheduler.Config) // tests and benchmarks adjust coordinators

	mu     sync.Mutex
	active map[string]*pubJob // by job ID text
}

// pubJob is one published job and its coordinator. mu serialises the
// coordinator's changes with their persistence.
type pubJob struct {
	id      cid.Cid
	m       job.Manifest
	signed  []byte
	profile string

	mu         sync.Mutex
	coord      *scheduler.Coordinator
	firstLease time.Time
	leased     int                // leases handed out by this process
	claims     map[string]int64   // milli-CU claimed per delivered lease (in memory)
	costs      credits.JobCosts   // what accepted results were paid
	progress   map[string]float64 // render progress per open lease, from heartbeats (in memory)
	errors     []TaskError        // latest renders reported failed, newest last (in memory)
}

// maxTaskErrors bounds the failed renders a job remembers for its status.
const maxTaskErrors = 20

// TaskError is a render a volunteer reported as failed.
type TaskError struct {
	Task   job.Task
	Peer   string
	Reason string
	At     time.Time
}

// noteError remembers a failed render for the job's status. j.mu is held.
func (j *pubJob) noteError(e TaskError) {
	j.errors = append(j.errors, e)
	if len(j.errors) > maxTaskErrors {
		j.errors = j.errors[len(j.errors)-maxTaskErrors:]
	}
}

// coordConfig is the coordinator configuration of a job: short leases kept
// alive by heartbeats, up to the job's time limit plus time to fetch.
func (p *publisher) coordConfig(id cid.Cid, m job.Manifest) scheduler.Config {
	cfg := scheduler.ConfigFor(id, m)
	cfg.LeaseTTL = leaseTTL
	cfg.MaxLease = time.Duration(m.Limits.MaxSecondsPerFrame)*time.Second + fetchAllowance
	if p.standing != nil {
		cfg.Standing = p.standing.of
	}
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
	if p.tune != nil {
		p.tune(&cfg)
	}
	return cfg
}

func newPubJob(id cid.Cid, m job.Manifest, signed []byte, coord *scheduler.Coordinator) *pubJob {
	return &pubJob{id: id, m: m, signed: signed, profile: m.Profile, coord: coord, claims: map[string]int64{}}
}

// load restores the jobs this node published before it last stopped.
func (p *publisher) load() error {
	stored, err := p.jobs.all()
	if err != nil {
		return err
	}
	for _, s := range stored {
		m, sm, err := job.OpenManifest(s.Signed)
		if err != nil {
			return fmt.Errorf("job %s in the database: %w", s.ID, err)
		}
		coord, err := scheduler.Restore(p.coordConfig(sm.ID(), m), s.Snapshot, p.now())
		if err != nil {
			return fmt.Errorf("restoring job %s: %w", s.ID, err)
		}
		p.active[s.ID] = newPubJob(sm.ID(), m, s.Signed, coord)
		p.log.Info("jobRestored", "job", s.ID, "state", coord.State())
	}
	return nil
}

func (p *publisher) job(id string) (*pubJob, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	j, ok := p.active[id]
	if !ok {
		return nil, fmt.Errorf("unknown job %s", id)
	}
	return j, nil
}

func (p *publisher) list() []*pubJob {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*pubJob, 0, len(p.active))
	for _, j := range p.active {
		out = append(out, j)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].m.Created < out[b].m.Created })
	return out
}

// save persists a job's coordinator; call with j.mu held.
func (p *publisher) save(j *pubJob) error {
	snap, err := j.coord.Snapshot()
	if err != nil {
		return err
	}
	return p.jobs.save(j.id.String(), snap, p.now())
}

// PublishRequest is what the artist asks for; zero values take the scene's
// defaults.
type PublishRequest struct {
	Scene      string // path on this machine
	Renderer   string
	Frames     string
	First      string // frames verified before the others are leased
	Replicas   int
	Width      int
	Height     int
	Samples    int
	Tiles      int
	Seed       int
	Title      string
	MaxSeconds int // per task; 0: one hour
}

// Publish packs the scene, signs the manifest, starts coordinating the job
// and announces it.
func (p *publisher) Publish(ctx context.Context, req PublishRequest) (cid.Cid, error) {
	if req.Renderer == "" {
		req.Renderer = job.BuiltinRenderer
	}
	b, ok := p.backends[req.Renderer]
	if !ok {
		return cid.Undef, fmt.Errorf("unknown renderer %q", req.Renderer)
	}
	version, ok := p.versions[req.Renderer]
	if !ok {
		return cid.Undef, fmt.Errorf("renderer %s is not installed on this node", req.Renderer)
	}
	packed, err := packScene(ctx, b, req.Scene, p.workDir)
	if err != nil {
		return cid.Undef, err
	}
	defer os.RemoveAll(filepath.Dir(packed.Dir))
	scene, err := p.store.Add(ctx, []string{packed.Dir})
	if err != nil {
		return cid.Undef, fmt.Errorf("sharing scene: %w", err)
	}
	m, err := p.manifest(req, version, scene.CID, packed)
	if err != nil {
		return cid.Undef, err
	}
	sm, err := m.Sign(p.key)
	if err != nil {
		return cid.Undef, err
	}
	signed, err := sm.Marshal()
	if err != nil {
		return cid.Undef, err
	}
	id := sm.ID()
	if j, err := p.job(id.String()); err == nil {
		return j.id, nil // the same job published twice in one second
	}
	coord, err := scheduler.New(p.coordConfig(id, m))
	if err != nil {
		return cid.Undef, err
	}
	snap, err := coord.Snapshot()
	if err != nil {
		return cid.Undef, err
	}
	if err := p.jobs.insert(id.String(), signed, snap, p.now()); err != nil {
		return cid.Undef, err
	}
	j := newPubJob(id, m, signed, coord)
	p.mu.Lock()
	p.active[id.String()] = j
	p.mu.Unlock()
	p.log.Info("jobPublished", "job", id, "frames", m.Frames.String(), "tasks", m.TaskCount())
	p.announce(ctx, j)
	return id, nil
}

// manifest fills a manifest from the request and the scene's defaults.
func (p *publisher) manifest(req PublishRequest, version string, scene cid.Cid, packed packedScene) (job.Manifest, error) {
	info := packed.Info
	spec := req.Frames
	if spec == "" {
		spec = fmt.Sprintf("%d-%d", info.FrameStart, info.FrameEnd)
	}
	frames, err := job.ParseFrameSpec(spec)
	if err != nil {
		return job.Manifest{}, err
	}
	var first job.FrameSpec
	if req.First != "" {
		if first, err = job.ParseFrameSpec(req.First); err != nil {
			return job.Manifest{}, fmt.Errorf("first frames: %w", err)
		}
	}
	pick := func(v, def, fallback int) int {
		if v != 0 {
			return v
		}
		if def != 0 {
			return def
		}
		return fallback
	}
	m := job.Manifest{
		Version:   job.FormatVersion,
		Publisher: p.self,
		Created:   p.now().Unix(),
		Title:     req.Title,
		Renderer:  job.Renderer{Name: req.Renderer, Version: version},
		Scene:     job.Scene{Asset: scene, Main: packed.Main},
		Frames:    frames,
		First:     first,
		Tiles:     req.Tiles,
		Width:     pick(req.Width, info.Width, 640),
		Height:    pick(req.Height, info.Height, 360),
		Samples:   pick(req.Samples, info.Samples, 0), // 0: the scene file's own anti-aliasing
		Seed:      req.Seed,
		Output:    job.OutputPNG,
		Profile:   job.DefaultProfile(req.Renderer),
		Replicas:  pick(req.Replicas, 0, 2),
		Limits:    job.Limits{MaxSecondsPerFrame: pick(req.MaxSeconds, 0, 3600), MaxMemoryMiB: 4096},
	}
	if m.Title == "" {
		m.Title = filepath.Base(req.Scene)
	}
	if err := m.Validate(); err != nil {
		return job.Manifest{}, err
	}
	return m, nil
}

// announce gossips a running or paused job.
func (p *publisher) announce(ctx context.Context, j *pubJob) {
	j.mu.Lock()
	state, counts := j.coord.State(), j.coord.Progress()
	j.mu.Unlock()
	if state != scheduler.StateRunning && state != scheduler.StatePaused && state != scheduler.StateQueued {
		return
	}
	wire := "running"
	if state == scheduler.StatePaused {
		wire = "paused"
	}
	data, err := p2p.Encode(p2p.Announcement{Manifest: j.signed, State: wire, TasksLeft: counts.Total - counts.Verified - counts.Failed})
	if err == nil {
		err = p.net.Publish(ctx, p2p.JobsTopic, data)
	}
	if err != nil {
		p.log.Warn("announceFailed", "job", j.id, "err", err)
	}
}

// Run re-announces open jobs and requeues expired leases until ctx ends.
func (p *publisher) Run(ctx context.Context) error {
	announce := time.NewTicker(announceEvery)
	defer announce.Stop()
	expire := time.NewTicker(time.Second)
	defer expire.Stop()
	for _, j := range p.list() {
		p.verify(ctx, j) // results delivered just before a crash
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-announce.C:
			for _, j := range p.list() {
				p.announce(ctx, j)
			}
		case <-expire.C:
			for _, j := range p.list() {
				j.mu.Lock()
				if expired := j.coord.Expire(p.now()); len(expired) > 0 {
					p.log.Info("leasesExpired", "job", j.id, "count", len(expired))
					p.save(j)
				}
				j.mu.Unlock()
			}
		}
	}
}

// control pauses, resumes or cancels a job.
func (p *publisher) control(ctx context.Context, id, action string) error {
	j, err := p.job(id)
	if err != nil {
		return err
	}
	j.mu.Lock()
	switch action {
	case "pause":
		j.coord.Pause()
	case "resume":
		err = j.coord.Resume()
	case "cancel":
		j.coord.Cancel()
	default:
		err = fmt.Errorf("unknown action %q", action)
	}
	if err == nil {
		err = p.save(j)
	}
	j.mu.Unlock()
	if err == nil {
		p.announce(ctx, j)
	}
	return err
}

var errNotPublisher = errors.New("this node did not publish that job")
