package publisher

import (
	"container/heap"
	"context"
	"fmt"
	"image"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/internal/clock"
	"github.com/renderswarm/renderswarm/internal/roletest"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/render/builtin"
	"github.com/renderswarm/renderswarm/scheduler"
	"github.com/renderswarm/renderswarm/work"
)

// A discrete-event simulation of a swarm, driving the real code: real
// Publishers (coordinator, placement, commit-then-reveal, verification,
// crop checks, pricing, strikes, receipts in a real ledger), each
// volunteer's real scheduler.Picker, one injected clock that jumps from
// event to event. What is simulated is everything outside the publisher:
// volunteers (honest or not, of different speeds, coming and going), the
// network (a call arrives at once) and rendering (an image that is a pure
// function of job, frame and pixel, after a simulated time).
//
// The simulation is single-threaded: it runs the publisher's verification
// pass itself right after every delivery, as the verifier would on being
// woken, so a run is a sequence of calls with no goroutines to wait for.

// volunteer kinds.
type simKind int

const (
	simHonest simKind = iota
	simLazy           // delivers a cheap wrong image on a share of its tasks
	simSybil          // one of a colluding pair: a shared wrong image when both hold a task
	simCopier         // renders nothing; holds its lease, then commits a guess
)

func (k simKind) String() string {
	return [...]string{"honest", "lazy", "sybil", "copier"}[k]
}

// simConfig describes a run.
type simConfig struct {
	Seed       uint64
	Volunteers int
	Publishers int
	// Jobs are published, per publisher, JobEvery apart (the first at the
	// start); each has a frame count and a render cost per frame on a
	// speed-1 machine, drawn by Job.
	JobsPerPublisher int
	JobEvery         time.Duration
	Job              func(r *rand.Rand) (frames int, cost time.Duration)
	Replicas         int // 0: 1 (adaptive replication)
	// Speeds of volunteers relative to the reference machine, drawn once.
	Speed func(r *rand.Rand) float64
	// Shares of volunteers that cheat (Sybil counts identities: pairs are
	// SybilShare/2 of the swarm).
	LazyShare, SybilShare, CopierShare float64
	// LazyRate is the share of its tasks a lazy volunteer fakes; Patient
	// cheaters (lazy and Sybil) play honest until established at the
	// publisher.
	LazyRate float64
	Patient  bool
	// Churn is the share of online volunteers that leave per hour; one who
	// leaves comes back after about Away, as a new identity with
	// probability Rejoin (a new install, or a Sybil's fresh start).
	Churn  float64
	Away   time.Duration
	Rejoin float64
	// History gives every volunteer that many verified results over three
	// earlier jobs at every publisher before the run: an established
	// swarm.
	History int
	// Limit ends the run; zero means 48 hours of simulated time.
	Limit time.Duration
}

// The world.

type simWorld struct {
	tb     testing.TB
	cfg    simConfig
	rng    *rand.Rand
	clock  *clock.Fake
	start  time.Time
	ctx    context.Context
	swarm  *roletest.Swarm
	info   render.Info
	pubs   []*simPub
	vols   []*simVol
	events simQueue
	seq    int
	stats  simStats

	jobs      map[cid.Cid]*simJob
	delivered map[simKey]bool // result of (task, peer) was an honest render
	sybilHeld map[job.Task]map[peer.ID]bool
	truth     map[job.Task]job.PixelDigest
	busyTime  float64     // volunteer-seconds online, times speed
	trail     []*simLease // every lease, with RS_SIM_TAIL set
	fairSum   float64     // Jain's index summed over the ticks sampled
	fairN     int         // ticks sampled
}

type simKey struct {
	t job.Task
	p peer.ID
}

type simPub struct {
	w    *simWorld
	p    *Publisher
	idx  int
	jobs []*simJob
	fake *simBackend
	left int // jobs not yet done
}

type simJob struct {
	pub       *simPub
	id        cid.Cid
	idx       int
	m         job.Manifest
	cost      time.Duration // per frame at speed 1
	published time.Time
	done      time.Time
	waiting   map[string]*simLease // committed leases not yet told to reveal
}

type simVol struct {
	w       *simWorld
	id      peer.ID
	kind    simKind
	partner *simVol
	speed   float64
	online  bool
	picker  *scheduler.Picker
	lease   *simLease              // rendering
	waiting map[*simLease]struct{} // committed, waiting to deliver (at most simMaxCommitted)
	asking  bool                   // an ask event is queued
	gen     int                    // bumps when the volunteer leaves: its queued events lapse
}

type simLease struct {
	v      *simVol
	j      *simJob
	g      *work.Grant
	honest bool
	img    *image.NRGBA
	png    []byte
	start  time.Time
	dur    time.Duration
	state  int // 0 rendering, 1 committed, 2 gone
	copied bool
	backup bool      // taken with LeaseBackup
	ended  time.Time // delivered or lost (RS_SIM_TAIL)
	lost   string    // why it was lost: "left", or the publisher's refusal
}

// simResult names the results of the volunteers' history.
var simResult = job.AssetCID([20]byte{0xee})

// Events.

type simEvent struct {
	at  time.Time
	seq int
	fn  func()
}

type simQueue []simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(a, b int) bool {
	if !q[a].at.Equal(q[b].at) {
		return q[a].at.Before(q[b].at)
	}
	return q[a].seq < q[b].seq
}
func (q simQueue) Swap(a, b int) { q[a], q[b] = q[b], q[a] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

func (w *simWorld) at(t time.Time, fn func()) {
	w.seq++
	heap.Push(&w.events, simEvent{at: t, seq: w.seq, fn: fn})
}

func (w *simWorld) after(d time.Duration, fn func()) { w.at(w.clock.Now().Add(d), fn) }

// simLogger discards the publishers' logs, unless RS_SIM_LOG names a
// file to write them to.
func simLogger(i int) *slog.Logger {
	path := os.Getenv("RS_SIM_LOG")
	if path == "" {
		return slog.New(slog.DiscardHandler)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})).With("pub", i)
}

// simDir is a scratch directory in memory where the machine has one:
// the simulation writes many small files and commits many transactions.
func simDir(tb testing.TB) string {
	base := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		base = "/dev/shm"
	}
	d, err := os.MkdirTemp(base, "renderswarm-sim-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// newSimWorld builds the swarm and its publishers; run starts it.
func newSimWorld(tb testing.TB, cfg simConfig) *simWorld {
	tb.Helper()
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.Limit == 0 {
		cfg.Limit = 48 * time.Hour
	}
	if cfg.Away == 0 {
		cfg.Away = 30 * time.Minute
	}
	start := time.Unix(1_900_000_000, 0)
	w := &simWorld{
		tb: tb, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed+1)),
		clock: clock.NewFake(start), start: start, ctx: context.Background(),
		swarm: roletest.NewSwarm(tb), jobs: map[cid.Cid]*simJob{}, delivered: map[simKey]bool{},
		sybilHeld: map[job.Task]map[peer.ID]bool{}, truth: map[job.Task]job.PixelDigest{},
	}
	info, err := builtin.New().Probe(w.ctx)
	if err != nil {
		tb.Fatal(err)
	}
	w.info = info
	dir := simDir(tb)
	for i := range cfg.Publishers {
		w.pubs = append(w.pubs, w.newPub(i, filepath.Join(dir, fmt.Sprintf("pub%d", i))))
	}
	for i := range cfg.Volunteers {
		w.vols = append(w.vols, w.newVol(w.kindOf(i)))
	}
	for i := 0; i+1 < len(w.vols); i++ {
		if w.vols[i].kind == simSybil && w.vols[i+1].kind == simSybil && w.vols[i].partner == nil {
			w.vols[i].partner, w.vols[i+1].partner = w.vols[i+1], w.vols[i]
		}
	}
	if cfg.History > 0 {
		w.history(cfg.History)
	}
	return w
}

func (w *simWorld) kindOf(i int) simKind {
	f := float64(i) / float64(w.cfg.Volunteers)
	switch {
	case f < w.cfg.LazyShare:
		return simLazy
	case f < w.cfg.LazyShare+w.cfg.SybilShare:
		return simSybil
	case f < w.cfg.LazyShare+w.cfg.SybilShare+w.cfg.CopierShare:
		return simCopier
	}
	return simHonest
}

func (w *simWorld) newVol(kind simKind) *simVol {
	_, id := roletest.Identity(w.tb)
	v := &simVol{w: w, id: id, kind: kind, speed: 1, waiting: map[*simLease]struct{}{}}
	if w.cfg.Speed != nil {
		v.speed = w.cfg.Speed(w.rng)
	}
	v.picker = scheduler.NewPicker(scheduler.PickerConfig{
		Self: id, Renderers: map[string]string{builtin.Name: w.info.Version},
		Reannounce: 100 * time.Hour, Seed: w.rng.Uint64(),
	})
	return v
}

// run plays the world until every job is done or the limit.
func (w *simWorld) run() simStats {
	for _, sp := range w.pubs {
		for k := range w.cfg.JobsPerPublisher {
			w.at(w.start.Add(time.Duration(k)*w.cfg.JobEvery), func() { sp.publish(k) })
		}
	}
	for _, v := range w.vols {
		v.online = true
		v.ask(time.Duration(w.rng.Int64N(int64(5 * time.Second))))
	}
	w.after(tickEvery, w.tick)
	total := w.cfg.Publishers * w.cfg.JobsPerPublisher
	end := w.start.Add(w.cfg.Limit)
	for w.events.Len() > 0 {
		e := heap.Pop(&w.events).(simEvent)
		if e.at.After(end) {
			break
		}
		if d := e.at.Sub(w.clock.Now()); d > 0 {
			w.clock.Advance(d)
		}
		e.fn()
		w.stats.Events++
		if w.doneJobs() == total {
			break
		}
	}
	w.finish()
	if os.Getenv("RS_SIM_TAIL") != "" {
		w.traceTail()
	}
	return w.stats
}

// tickEvery is how often volunteers renew their leases and publishers
// expire theirs.
const tickEvery = 10 * time.Second

// tick renews every lease (with its render's progress), lets publishers
// expire what lapsed, and plays churn.
func (w *simWorld) tick() {
	now := w.clock.Now()
	online, speed := 0, 0.0
	for _, v := range w.vols {
		if !v.online {
			continue
		}
		online++
		speed += v.speed
		for _, l := range v.leases() {
			done := 0.99 * math.Min(1, float64(now.Sub(l.start))/float64(max(1, l.dur)))
			if l.state == 1 {
				done = 1
			}
			t0 := time.Now()
			_, err := l.j.pub.p.Renew(w.ctx, v.id, l.g.Ref, done)
			w.stats.PublisherTime += time.Since(t0)
			if err != nil {
				v.lose(l, "renew: "+err.Error())
			}
		}
	}
	w.busyTime += speed * tickEvery.Seconds()
	w.sampleFairness()
	if os.Getenv("RS_SIM_BUSY") != "" && now.Sub(w.start)%(2*time.Minute) < tickEvery {
		w.traceBusy(now, online)
	}
	for _, sp := range w.pubs {
		t0 := time.Now()
		for _, j := range sp.jobs {
			if j.done.IsZero() {
				pj, _ := sp.p.job(j.id)
				sp.p.expire(pj)
				w.reveal(j)
			}
		}
		w.stats.PublisherTime += time.Since(t0)
	}
	if w.cfg.Churn > 0 {
		leave := w.cfg.Churn * tickEvery.Hours()
		for _, v := range w.vols {
			if v.online && w.rng.Float64() < leave {
				v.leave()
			}
		}
	}
	w.after(tickEvery, w.tick)
}
