package publisher

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/examples"
	"github.com/renderswarm/renderswarm/internal/roletest"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/render/builtin"
	"github.com/renderswarm/renderswarm/scheduler"
)

// The simulated publishers: a real Publisher each, with its ledger and
// standings; the jobs it publishes; its verification pass, run after
// every delivery.

// newPub starts publisher i: a real Publisher on its own database and
// ledger in dir, rendering its crop checks with the simulated backend.
func (w *simWorld) newPub(i int, dir string) *simPub {
	tb := w.tb
	key, self := roletest.Identity(tb)
	for _, sub := range []string{"work", "results"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	ledger, d := roletest.LedgerIn(tb, dir, self)
	fake := &simBackend{Backend: builtin.New(), w: w, bySeed: map[uint64]*simJob{}}
	p, err := New(w.ctx, Config{
		Key: key, DB: d, Assets: w.swarm.Store(), Net: &network{}, Ledger: ledger,
		Backends: map[string]render.Backend{builtin.Name: fake}, Infos: map[string]render.Info{builtin.Name: w.info},
		WorkDir: filepath.Join(dir, "work"), ResultsDir: filepath.Join(dir, "results"), Clock: w.clock,
		Logger: simLogger(i),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &simPub{w: w, p: p, idx: i, fake: fake}
}

// history gives every volunteer the standing of n verified results over
// three earlier jobs at each publisher. It is set in the publishers'
// standings, as reading n receipts from their ledgers would: issuing
// them one by one (21 signed receipts per volunteer and publisher, 21
// million at 10,000 volunteers and 100 publishers) took most of a run.
func (w *simWorld) history(n int) {
	for _, sp := range w.pubs {
		s := sp.p.standing
		s.mu.Lock()
		if !s.load() {
			w.tb.Fatal("the standings cannot be read")
		}
		for _, v := range w.vols {
			st := &standing{verified: n, jobs: map[string]struct{}{}}
			for k := range 3 {
				st.jobs[fmt.Sprintf("earlier job %d of publisher %d", k, sp.idx)] = struct{}{}
			}
			s.got[v.id] = st
		}
		s.mu.Unlock()
	}
}

// publish publishes a publisher's next job.
func (sp *simPub) publish(k int) {
	w := sp.w
	frames, cost := w.cfg.Job(w.rng)
	dir := filepath.Join(simDir(w.tb), "scene")
	if err := examples.WriteBuiltin(dir); err != nil {
		w.tb.Fatal(err)
	}
	t0 := time.Now()
	id, err := sp.p.Publish(w.ctx, Request{
		Scene: filepath.Join(dir, examples.DemoScene), Frames: fmt.Sprintf("1-%d", frames), Replicas: w.cfg.Replicas,
		Width: simSize, Height: simSize, Samples: 1, Seed: sp.idx*1000 + k, Title: fmt.Sprintf("pub%d job%d", sp.idx, k),
	})
	if err != nil {
		w.tb.Fatal(err)
	}
	j0, err := sp.p.job(id)
	if err != nil {
		w.tb.Fatal(err)
	}
	j := &simJob{pub: sp, id: id, idx: len(w.jobs), m: j0.m, cost: cost, published: w.clock.Now(), waiting: map[string]*simLease{}}
	sp.fake.bySeed[uint64(j.m.Seed)] = j
	sp.p.calibrate(w.ctx, j0)
	w.stats.PublisherTime += time.Since(t0)
	sp.jobs = append(sp.jobs, j)
	sp.left++
	w.jobs[id] = j
	w.stats.Frames += frames
	w.stats.Work += time.Duration(frames) * cost
	for _, v := range w.vols {
		v.picker.Observe(scheduler.Offer{Job: id, Publisher: sp.p.self, Renderer: builtin.Name, Version: w.info.Version,
			TasksLeft: frames, Seen: w.clock.Now()})
		if v.online && v.lease == nil {
			v.ask(0)
		}
	}
}

// verify runs the publisher's verification on a job's pending tasks, one
// after another, as its verifier does when woken.
func (w *simWorld) verify(j *simJob) {
	p := j.pub.p
	pj, err := p.job(j.id)
	if err != nil {
		return
	}
	t0 := time.Now()
	p.reproduce(w.ctx, pj)
	if prof, err := credits.ProfileFor(pj.m.Profile); err == nil {
		pj.mu.Lock()
		pending := pj.coord.Pending()
		pj.mu.Unlock()
		for _, tr := range pending {
			p.verifyTask(w.ctx, pj, tr, prof)
		}
	}
	p.credit(pj)
	w.stats.PublisherTime += time.Since(t0)
	w.reveal(j)
	if j.done.IsZero() && pj.done() {
		j.done = w.clock.Now()
		j.pub.left--
		for _, v := range w.vols {
			v.picker.Observe(scheduler.Offer{Job: j.id, Publisher: p.self, Renderer: builtin.Name, Version: w.info.Version, TasksLeft: 0, Seen: w.clock.Now()})
		}
	}
	// Tasks asking for another replica may now be leased: idle volunteers
	// ask again soon (they would, within their retry).
}

func (w *simWorld) strikes(sp *simPub) int {
	var n int
	if err := sp.p.cfg.DB.QueryRow(`SELECT count(*) FROM credits_strikes`).Scan(&n); err != nil {
		w.tb.Fatal(err)
	}
	return n
}
