package scheduler

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/job"
)

type volunteerKind int

const (
	honest  volunteerKind = iota
	flaky                 // gives back 30 % of its leases as failed
	ghost                 // takes leases and vanishes
	cheater               // renders garbage (and commits to it)
)

type volunteer struct {
	id      peer.ID
	prefix  string
	kind    volunteerKind
	lease   *Lease
	doneAt  time.Time
	blocked bool
	result  *Result // committed, waiting to reveal
}

// simulation drives one coordinator with simulated volunteers on a
// simulated clock, deciding replicas by exact digest like the builtin
// renderer's profile.
type simulation struct {
	c        *Coordinator
	vs       []*volunteer
	rng      *rand.Rand
	now      time.Time
	leases   int // leases handed out
	asks     int // Lease calls
	seen     map[job.Task]map[peer.ID]bool
	tasks    int
	replicas int
	scans    int // uncredited and suspect tasks the scans found
}

func honestResult(tk job.Task) Result { return result(fmt.Sprintf("task %d/%d", tk.Frame, tk.Tile)) }

func newSimulation(tb testing.TB, tasks, volunteers, replicas int, standing func(peer.ID) Standing, vs []*volunteer) *simulation {
	j := testJob("sim")
	cfg := Config{
		Job: j, Tasks: tasksOf(j, tasks, 1), Replicas: replicas, LeaseTTL: 10 * time.Minute,
		Standing: standing, Rand: seeded(9),
	}
	s := &simulation{
		c: newCoord(tb, cfg), vs: vs, rng: rand.New(rand.NewPCG(1, 2)), now: t0,
		seen: map[job.Task]map[peer.ID]bool{}, tasks: tasks, replicas: replicas,
	}
	return s
}

// volunteersFor returns n volunteers on 5 network prefixes: 2 flaky, 2
// ghosts and 3 cheaters, the rest honest.
func volunteersFor(tb testing.TB, n int) []*volunteer {
	vs := make([]*volunteer, n)
	for i, id := range testPeers(tb, n) {
		v := &volunteer{id: id, prefix: fmt.Sprintf("10.%d", i%5)}
		switch {
		case i < 2:
			v.kind = flaky
		case i < 4:
			v.kind = ghost
		case i < 7:
			v.kind = cheater
		}
		vs[i] = v
	}
	return vs
}

// step advances the clock by 10 s: idle volunteers ask for work, busy ones
// finish, the publisher expires leases and decides pending tasks.
func (s *simulation) step(tb testing.TB) {
	s.now = s.now.Add(10 * time.Second)
	for _, v := range s.vs {
		if v.blocked {
			continue
		}
		if v.lease == nil {
			s.ask(tb, v)
			continue
		}
		if v.result != nil {
			s.reveal(tb, v)
			continue
		}
		if s.now.Before(v.doneAt) {
			continue
		}
		s.finish(tb, v)
	}
	s.c.Expire(s.now)
	for _, tr := range s.c.Pending() {
		if err := s.c.Resolve(tr.Task, decide(tr)); err != nil {
			tb.Fatalf("Resolve: %v", err)
		}
	}
	// What the publisher's verifier asks after every delivery, kept as
	// tasks change, is what a scan of every task finds.
	s.checkScans(tb)
	for k, tk := range s.c.Uncredited() {
		if k%2 == 0 {
			if err := s.c.MarkCredited(tk); err != nil {
				tb.Fatal(err)
			}
		}
	}
	for k, tk := range s.c.Suspects() {
		if k%2 == 0 {
			if err := s.c.Reproduced(tk, false); err != nil {
				tb.Fatal(err)
			}
		}
	}
	s.checkScans(tb)
}

// checkScans compares Uncredited, Suspects, Progress and StatesInOrder
// with a scan of every task.
func (s *simulation) checkScans(tb testing.TB) {
	tb.Helper()
	c := s.c
	var unc, sus []job.Task
	var grid []TaskState
	want := Counts{Total: len(c.tasks)}
	c.mu.Lock()
	for _, t := range c.tasks {
		switch {
		case t.status == tsAccepted:
			want.Verified++
			grid = append(grid, TaskVerified)
		case t.status == tsFailed:
			want.Failed++
			grid = append(grid, TaskFailed)
		case t.active > 0:
			want.Rendering++
			grid = append(grid, TaskRendering)
		case len(t.delivered) > 0:
			want.Rendering++
			grid = append(grid, TaskVerifying)
		default:
			want.Queued++
			grid = append(grid, TaskQueued)
		}
		if t.status == tsAccepted && !t.credited {
			unc = append(unc, t.t)
		}
		if _, all := t.failures(); t.status == tsOpen && !t.reproduced && all >= c.cfg.MaxRenderFailures {
			sus = append(sus, t.t)
		}
	}
	c.mu.Unlock()
	if got := c.Uncredited(); !slices.Equal(got, unc) {
		tb.Fatalf("Uncredited %v, a scan finds %v", got, unc)
	}
	if got := c.Suspects(); !slices.Equal(got, sus) {
		tb.Fatalf("Suspects %v, a scan finds %v", got, sus)
	}
	if got := c.Progress(); got != want {
		tb.Fatalf("Progress %+v, a scan finds %+v", got, want)
	}
	if got := c.StatesInOrder(); !slices.Equal(got, grid) {
		for i := range min(len(got), len(grid)) {
			if got[i] != grid[i] {
				tb.Fatalf("StatesInOrder says task %d is %s, a scan finds %s", i, got[i], grid[i])
			}
		}
		tb.Fatalf("StatesInOrder has %d tasks, a scan %d", len(got), len(grid))
	}
	s.scans += len(unc) + len(sus)
}

func (s *simulation) ask(tb testing.TB, v *volunteer) {
	s.asks++
	l, err := s.c.Lease(s.now, v.id, v.prefix)
	switch {
	case errors.Is(err, ErrBlocked):
		v.blocked = true
		return
	case errors.Is(err, ErrNoWork), errors.Is(err, ErrJobDone):
		return
	case err != nil:
		tb.Fatalf("Lease: %v", err)
	}
	s.leases++
	if s.seen[l.Task] == nil {
		s.seen[l.Task] = map[peer.ID]bool{}
	}
	if s.seen[l.Task][v.id] {
		tb.Fatalf("task %s leased twice to %s", l.Task, v.id)
	}
	s.seen[l.Task][v.id] = true
	v.lease = &l
	v.doneAt = s.now.Add(time.Duration(30+s.rng.IntN(120)) * time.Second)
	if v.kind == ghost { // comes back after its lease expired
		v.doneAt = l.Expires.Add(time.Minute)
	}
}

func (s *simulation) finish(tb testing.TB, v *volunteer) {
	l := *v.lease
	v.lease = nil
	if v.kind == flaky && s.rng.IntN(10) < 3 {
		if err := s.c.Fail(s.now, l.ID, v.id); err != nil && !errors.Is(err, ErrLeaseExpired) {
			tb.Fatalf("Fail: %v", err)
		}
		return
	}
	r := honestResult(l.Task)
	if v.kind == cheater {
		r = result(fmt.Sprintf("garbage %s %s", l.Task, v.id))
	}
	if err := commit(s.c, s.now, l.ID, v.id, job.Commit(l.Salt, r.Digest)); err != nil {
		if errors.Is(err, ErrLeaseExpired) || errors.Is(err, ErrUnknownLease) {
			return
		}
		tb.Fatalf("Commit: %v", err)
	}
	v.lease, v.result = &l, &r
	s.reveal(tb, v)
}

// reveal delivers a committed result once every replica of its task has
// committed; a lease lost meanwhile is given up.
func (s *simulation) reveal(tb testing.TB, v *volunteer) {
	l := *v.lease
	ok, err := s.c.Revealed(s.now, l.ID, v.id)
	if err != nil {
		v.lease, v.result = nil, nil
		if errors.Is(err, ErrLeaseExpired) || errors.Is(err, ErrUnknownLease) || errors.Is(err, ErrLeaseClosed) {
			return
		}
		tb.Fatalf("Revealed: %v", err)
	}
	if !ok {
		return
	}
	r := *v.result
	v.lease, v.result = nil, nil
	if err := s.c.Deliver(s.now, l.ID, v.id, r); err != nil {
		tb.Fatalf("Deliver: %v", err)
	}
}

// decide is credits.Decide for exact digests.
func decide(tr TaskResults) job.Decision {
	n := len(tr.Results)
	groups := map[job.PixelDigest][]int{}
	best := -1
	for i, d := range tr.Results {
		groups[d.Result.Digest] = append(groups[d.Result.Digest], i)
		if g := groups[d.Result.Digest]; best < 0 || len(g) > len(groups[tr.Results[best].Result.Digest]) {
			best = g[0]
		}
	}
	win := groups[tr.Results[best].Result.Digest]
	unique := true
	for dg, g := range groups {
		if dg != tr.Results[best].Result.Digest && len(g) >= len(win) {
			unique = false
		}
	}
	switch {
	case len(win) >= tr.Quorum && unique:
		d := job.Decision{Verdict: job.Accept, Canonical: best, Agreeing: win}
		if 2*len(win) > n {
			for i := range n {
				if tr.Results[i].Result.Digest != tr.Results[best].Result.Digest {
					d.Losers = append(d.Losers, i)
				}
			}
		}
		return d
	case n < tr.MaxResults:
		return job.Decision{Verdict: job.NeedReplica}
	}
	return job.Decision{Verdict: job.GiveUp}
}

// run steps until the job is done, at most a simulated week.
func (s *simulation) run(tb testing.TB) {
	for end := s.now.Add(7 * 24 * time.Hour); !s.c.Done(); {
		if s.now.After(end) {
			tb.Fatalf("simulation did not finish: %+v", s.c.Progress())
		}
		s.step(tb)
	}
}

func TestSimulation(t *testing.T) {
	const tasks = 1000 // about 20 ms: no -short variant needed
	established := func(peer.ID) Standing { return Standing{Verified: 100, Jobs: 10, ConsecutiveValid: 100} }
	tests := []struct {
		name      string
		replicas  int
		standing  func(peer.ID) Standing
		maxLeases int
	}{
		{"two replicas", 2, nil, 3 * tasks},
		{"adaptive, everyone new", 1, nil, 3 * tasks},
		{"adaptive, everyone established", 1, established, 3 * tasks / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := volunteersFor(t, 50)
			s := newSimulation(t, tasks, 50, tt.replicas, tt.standing, vs)
			s.run(t)
			if n := s.c.Progress(); n.Verified != tasks {
				t.Fatalf("progress %+v: every task should be verified", n)
			}
			if s.scans == 0 {
				t.Fatal("no task was ever uncredited or suspect: the scans were not compared")
			}
			if s.leases > tt.maxLeases {
				t.Fatalf("%d leases for %d tasks, want at most %d", s.leases, tasks, tt.maxLeases)
			}
			wrong := 0
			for _, tk := range tasksOf(testJob("sim"), tasks, 1) {
				res, peers, _ := s.c.Accepted(tk)
				if res != honestResult(tk) {
					wrong++
				}
				for _, p := range peers {
					if v := s.byID(p); v.kind == cheater && tt.standing == nil {
						t.Fatalf("cheater credited for %s", tk)
					}
				}
			}
			// Unreplicated tasks of established cheaters slip through
			// (that is what the publisher's crop spot checks are for);
			// with full replication none may.
			if tt.standing == nil && wrong > 0 {
				t.Fatalf("%d tasks accepted a cheater's result", wrong)
			}
			for _, v := range vs {
				if (v.kind == ghost || (v.kind == cheater && tt.standing == nil)) && !s.c.Blocked(v.id) {
					t.Fatalf("%v volunteer %s not blocklisted", v.kind, v.id)
				}
				if v.kind == honest && s.c.Blocked(v.id) {
					t.Fatalf("honest volunteer %s blocklisted", v.id)
				}
			}
		})
	}
}

func (s *simulation) byID(p peer.ID) *volunteer {
	for _, v := range s.vs {
		if v.id == p {
			return v
		}
	}
	return nil
}

// BenchmarkSimulation runs a whole job of 1,000 tasks with Replicas 2 and 50
// volunteers (2 flaky, 2 vanishing, 3 cheating) per iteration and reports
// leases handed out and Lease calls per second of CPU.
func BenchmarkSimulation(b *testing.B) {
	vsTemplate := volunteersFor(b, 50)
	leases, asks := 0, 0
	b.ResetTimer()
	for b.Loop() {
		vs := make([]*volunteer, len(vsTemplate))
		for i, v := range vsTemplate {
			vs[i] = &volunteer{id: v.id, prefix: v.prefix, kind: v.kind}
		}
		s := newSimulation(b, 1000, 50, 2, nil, vs)
		s.run(b)
		leases += s.leases
		asks += s.asks
	}
	b.ReportMetric(float64(leases)/b.Elapsed().Seconds(), "leases/s")
	b.ReportMetric(float64(asks)/b.Elapsed().Seconds(), "asks/s")
	b.ReportMetric(float64(leases)/float64(b.N), "leases/job")
}

// BenchmarkLeaseLargeJob measures one Lease, Commit and Deliver in a job of
// 100,000 tasks (the manifest's maximum) with Replicas 2 and 50 peers,
// resolving pending tasks every 1,000 leases.
func BenchmarkLeaseLargeJob(b *testing.B) {
	const tasks = 100_000
	ps := testPeers(b, 50)
	j := testJob("large")
	mk := func() *Coordinator {
		return newCoord(b, strict(Config{Job: j, Tasks: tasksOf(j, tasks, 1), Replicas: 2, LeaseTTL: time.Hour, Rand: seeded(4)}))
	}
	c := mk()
	i := 0
	for b.Loop() {
		l, err := c.Lease(t0, ps[i%len(ps)], "")
		if errors.Is(err, ErrJobDone) {
			b.StopTimer()
			c = mk()
			b.StartTimer()
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		deliver(b, c, t0, l, "same")
		if i++; i%1000 == 0 {
			for _, tr := range c.Pending() {
				if err := c.Resolve(tr.Task, job.Decision{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0, 1}}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "leases/s")
}

// BenchmarkVerifierScansLargeJob measures what a publisher's verifier asks
// its job's coordinator on every wake (a delivery: hundreds a second): the
// tasks to reproduce and the tasks to credit, in a job of 100,000 tasks
// half of them accepted and credited.
func BenchmarkVerifierScansLargeJob(b *testing.B) {
	const tasks = 100_000
	j := testJob("large")
	ps := testPeers(b, 2)
	c := newCoord(b, strict(Config{Job: j, Tasks: tasksOf(j, tasks, 1), Replicas: 2, LeaseTTL: time.Hour, Rand: seeded(4)}))
	for range tasks / 2 {
		l0 := mustLease(b, c, t0, ps[0], "")
		l1 := mustLease(b, c, t0, ps[1], "")
		deliver(b, c, t0, l0, "same")
		deliver(b, c, t0, l1, "same")
	}
	for _, tr := range c.Pending() {
		if err := c.Resolve(tr.Task, job.Decision{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0, 1}}); err != nil {
			b.Fatal(err)
		}
		c.MarkCredited(tr.Task)
	}
	for b.Loop() {
		if len(c.Suspects())+len(c.Uncredited()) != 0 {
			b.Fatal("a suspect or an uncredited task")
		}
		if n := c.Progress(); n.Verified != tasks/2 || n.Queued != tasks/2 {
			b.Fatalf("progress %+v", n)
		}
	}
}
