package publisher

import (
	"math/rand/v2"
	"testing"
	"time"
)

// Monte Carlo runs of the work protocol against a swarm with cheaters
// (DESIGN.md §5): the real publisher, coordinator, verification and
// ledger, simulated volunteers and time (sim_test.go).

// mcSwarm is the swarm: 10 % lazy cheaters, 5 % colluding Sybil
// identities, 2 % copiers, churn, one-minute-ish frames.
func mcSwarm(volunteers, publishers, jobs, frames int) simConfig {
	return simConfig{
		Seed: 1, Volunteers: volunteers, Publishers: publishers, JobsPerPublisher: jobs, JobEvery: 10 * time.Minute,
		Job: func(r *rand.Rand) (int, time.Duration) {
			return frames, time.Duration(30+r.IntN(90)) * time.Second
		},
		Speed:     func(r *rand.Rand) float64 { return 0.5 + r.Float64() },
		LazyShare: 0.10, SybilShare: 0.05, CopierShare: 0.02, LazyRate: 1,
		Churn: 0.2, Away: 30 * time.Minute, Rejoin: 0.5,
	}
}

// In a swarm of new volunteers every result is replicated and every
// accepted one from a new peer is crop-checked: cheaters get no wrong
// frame through and earn nothing.
func TestMonteCarloNewSwarm(t *testing.T) {
	runClean(t, mcSwarm(100, 2, 2, 60))
}

// Once cheaters are established — they played honest until then — an
// unreplicated result of theirs is checked by another volunteer's crop
// (a check replica): no wrong frame gets through and they earn nothing
// for it. (Checked only at random — 3 % by the publisher, 5 % by a
// second render — 19 of these 240 frames were wrong and 17 % of the CU
// was paid for work not done.) At the jobs' ends, where volunteers stand
// idle, second renders are split in parts rendered by several peers:
// they check as well.
func TestMonteCarloEstablishedCheaters(t *testing.T) {
	cfg := mcSwarm(100, 2, 2, 60)
	cfg.History, cfg.Patient = 21, true
	s := runClean(t, cfg)
	if s.Checks == 0 {
		t.Error("no check replica was rendered: the test proves nothing")
	}
	if s.Parts == 0 {
		t.Error("no second render was split in parts: the test proves nothing of them")
	}
}

// runClean runs a swarm with cheaters and checks that every frame was
// accepted, none of them wrong, and no CU paid for work not done.
func runClean(t *testing.T, cfg simConfig) simStats {
	if testing.Short() {
		t.Skip("simulation; skipped with -short")
	}
	s := newSimWorld(t, cfg).run()
	t.Logf("\n%s", s)
	if s.Accepted < s.Frames {
		t.Fatalf("%d of %d frames accepted", s.Accepted, s.Frames)
	}
	if s.Wrong != 0 {
		t.Errorf("%d wrong frames accepted", s.Wrong)
	}
	if s.UnearnedCU != 0 {
		t.Errorf("%.1f CU paid for work not done", s.UnearnedCU)
	}
	return s
}

// The Monte Carlo figures (go test -run '^$' -bench MonteCarlo
// -benchtime 1x ./publisher): 1,000 volunteers, 20 jobs from two
// publishers, and the swarms of the issue.
func BenchmarkMonteCarlo(b *testing.B) {
	const volunteers, publishers, jobs, frames = 1000, 2, 10, 300
	scenarios := []struct {
		name string
		cfg  func() simConfig
	}{
		{"new-swarm", func() simConfig { return mcSwarm(volunteers, publishers, jobs, frames) }},
		{"established-patient-cheaters", func() simConfig {
			c := mcSwarm(volunteers, publishers, jobs, frames)
			c.History, c.Patient = 21, true
			return c
		}},
		{"established-rare-cheaters", func() simConfig {
			c := mcSwarm(volunteers, publishers, jobs, frames)
			c.History, c.Patient, c.LazyRate = 21, true, 0.1
			return c
		}},
		{"established-honest", func() simConfig {
			c := mcSwarm(volunteers, publishers, jobs, frames)
			c.History, c.LazyShare, c.SybilShare, c.CopierShare = 21, 0, 0, 0
			return c
		}},
		{"established-honest-no-churn", func() simConfig {
			c := mcSwarm(volunteers, publishers, jobs, frames)
			c.History, c.LazyShare, c.SybilShare, c.CopierShare, c.Churn = 21, 0, 0, 0, 0
			return c
		}},
	}
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			for range b.N {
				s := newSimWorld(b, sc.cfg()).run()
				b.Logf("\n%s", s)
				b.ReportMetric(float64(s.Wrong)/float64(max(1, s.Accepted)), "wrong/frame")
				b.ReportMetric(100*s.UnearnedCU/max(1, s.PaidCU), "unearned-%")
				b.ReportMetric(float64(s.Renders)/float64(max(1, s.Accepted)), "renders/frame")
				b.ReportMetric(float64(s.CropChecks)/float64(max(1, s.Accepted)), "crops/frame")
			}
		})
	}
}

// scaleSwarm is the scale target of DESIGN.md §8: honest, established
// volunteers of mixed speeds (0.25–2× the reference machine), churn of
// 20 % an hour, and one job per publisher, all published at once: 70 %
// short (20–60 frames of 20–60 s), 30 % long (long/2 to 3·long/2 frames of
// one to three minutes). Replicas 1: adaptive replication.
func scaleSwarm(volunteers, publishers, long int) simConfig {
	return simConfig{
		Seed: 2, Volunteers: volunteers, Publishers: publishers, JobsPerPublisher: 1, JobEvery: time.Hour,
		Job: func(r *rand.Rand) (int, time.Duration) {
			if r.Float64() < 0.7 {
				return 20 + r.IntN(41), time.Duration(20+r.IntN(41)) * time.Second
			}
			return long/2 + r.IntN(long+1), time.Duration(60+r.IntN(121)) * time.Second
		},
		Speed:   func(r *rand.Rand) float64 { return 0.25 + 1.75*r.Float64() },
		History: 21, LazyRate: 1, Churn: 0.2, Away: 30 * time.Minute, Rejoin: 0.5,
	}
}

// A CI-sized run of the scale scenario (about ten frames per volunteer):
// the swarm finishes every job, close to the bound (total work ÷
// capacity, or the longest single frame after its job's arrival). The
// goal is 10 %; measured 1.16–1.23 (crop checks draw from crypto/rand
// and tasks are verified in parallel, so runs differ). About 1.11 of it
// is the work verification adds (check crops, second renders, new
// identities' replicas): against the renders actually done the ratio is
// 1.04–1.09. The rest is the last frames: a task whose result the
// adaptive coin sends to a second full render is two renders end to end,
// unless peers stand idle: then it is split in bands rendered side by side.
// Backups of stragglers by pace (LeaseBackup) took that from 1.25–1.39
// (1.12–1.23 against the renders done), and leaving a draining job's last
// tasks to faster peers a little further. Against the bound of the renders
// kept (the verification's work counted in) it is 1.05–1.07 here, and
// 1.02–1.03 with the long jobs four times as long (a run of 1h50m instead
// of 27 minutes, 40 s instead of 6): the last frames take the same minutes
// either way. This guards against the
// scheduling idling volunteers: at most 1.15 against the bound of the
// renders kept, 1.35 against the bare bound.
func TestScaleSimulation(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation; skipped with -short")
	}
	s := newSimWorld(t, scaleSwarm(200, 10, 600)).run()
	t.Logf("\n%s", s)
	if s.Accepted < s.Frames {
		t.Fatalf("%d of %d frames accepted", s.Accepted, s.Frames)
	}
	if r := float64(s.Makespan) / float64(s.Bound); r > 1.35 {
		t.Errorf("makespan %v is %.2f× the bound %v; want at most 1.35×", s.Makespan.Round(time.Second), r, s.Bound.Round(time.Second))
	}
	if r := float64(s.Makespan) / float64(s.BoundKept); r > 1.15 {
		t.Errorf("makespan %v is %.2f× the bound of the renders kept %v; want at most 1.15×", s.Makespan.Round(time.Second), r, s.BoundKept.Round(time.Second))
	}
}

// The scale figures (go test -run '^$' -bench Scale -benchtime 1x
// -timeout 3h ./publisher): 1,000 volunteers and 20 publishers, then the
// target, 10,000 volunteers and 100 publishers, each with about ten frames
// per volunteer (a run of some 25 minutes) and, as "hours", four times as
// many (the long jobs' frame counts ×4: a run of about an hour and a half,
// in which the churn of 20 % an hour plays). The last frames of a run
// (one to three minutes each, on machines eight times apart in speed) take
// about the same time either way: they weigh less in the longer one.
func BenchmarkScale(b *testing.B) {
	for _, sc := range []struct {
		name                         string
		volunteers, publishers, long int
	}{
		{"volunteers=1000", 1000, 20, 1500},
		{"volunteers=10000", 10_000, 100, 3000},
		{"volunteers=1000,hours", 1000, 20, 6000},
		{"volunteers=10000,hours", 10_000, 100, 12_000},
	} {
		b.Run(sc.name, func(b *testing.B) {
			for range b.N {
				s := newSimWorld(b, scaleSwarm(sc.volunteers, sc.publishers, sc.long)).run()
				b.Logf("\n%s", s)
				b.ReportMetric(float64(s.Makespan)/float64(max(1, s.Bound)), "makespan/bound")
				b.ReportMetric(float64(s.Makespan)/float64(max(1, s.BoundKept)), "makespan/bound-kept")
				b.ReportMetric(float64(s.Makespan)/float64(max(1, s.BoundDone)), "makespan/bound-done")
				b.ReportMetric(float64(s.PublisherTime.Microseconds())/float64(max(1, s.Accepted)), "publisher-µs/frame")
				b.ReportMetric(s.FairnessJain, "fairness")
			}
		})
	}
}
