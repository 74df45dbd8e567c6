package scheduler

import (
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/job"
)

// backupConfig is a one-frame adaptive job of established volunteers whose
// renders the publisher expects to take 4 minutes on a slow machine: a
// replica may be backed up after a minute.
func backupConfig() Config {
	cfg := testConfig(1, 1)
	cfg.Standing = func(peer.ID) Standing { return Standing{Verified: 100, Jobs: 10, ConsecutiveValid: 1000} }
	cfg.RenderTime = 4 * time.Minute
	cfg.MaxLease = 3 * time.Hour // leases renewed up to then
	return cfg
}

// mustBackup is LeaseBackup for p, which must grant a replica of task.
func mustBackup(t *testing.T, c *Coordinator, now time.Time, p peer.ID, prefix string, task job.Task, what string) Lease {
	t.Helper()
	l, err := c.LeaseBackup(now, p, prefix)
	if err != nil || l.Task != task {
		t.Fatalf("%s: %+v, %v; want a replica of %s", what, l, err, task)
	}
	return l
}

// A volunteer with nothing else to do races a straggler: only LeaseBackup
// hands out the backup, only once the straggler has run BackupAfter, only
// one at a time; the first of the two to commit keeps the task and the
// straggler's lease is withdrawn without a failure charged.
func TestBackupRacesStraggler(t *testing.T) {
	ps := testPeers(t, 3)
	c := newCoord(t, backupConfig())
	slow := mustLease(t, c, t0, ps[0], "")
	if _, err := c.LeaseBackup(t0.Add(30*time.Second), ps[1], ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("backup after 30s: %v, want ErrNoWork", err)
	}
	if _, err := c.Lease(t0.Add(2*time.Minute), ps[1], ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("a plain lease backed up a straggler: %v", err)
	}
	fast, err := c.LeaseBackup(t0.Add(2*time.Minute), ps[1], "")
	if err != nil || fast.Task != slow.Task {
		t.Fatalf("backup after 2m: %+v, %v; want a replica of %s", fast, err, slow.Task)
	}
	if _, err := c.LeaseBackup(t0.Add(2*time.Minute), ps[2], ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("a second backup of one task: %v", err)
	}
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, c, t0.Add(3*time.Minute), fast, "frame")
	if _, err := c.Renew(t0.Add(3*time.Minute), slow.ID, ps[0]); !errors.Is(err, ErrLeaseClosed) {
		t.Fatalf("the straggler's lease after the backup committed: %v, want ErrLeaseClosed", err)
	}
	if c.points[ps[0]] != 0 {
		t.Errorf("the straggler was charged %d failure points for losing the race", c.points[ps[0]])
	}
	if p := c.Pending(); len(p) == 1 && len(p[0].Results) != 1 {
		t.Errorf("pending %+v, want the backup's result alone", p)
	}

	// A restart keeps the race.
	r, err := Restore(backupConfig(), snap, t0.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, r, t0.Add(3*time.Minute), slow, "frame")
	if _, err := r.Renew(t0.Add(3*time.Minute), fast.ID, ps[1]); !errors.Is(err, ErrLeaseClosed) {
		t.Fatalf("after a restart the backup's lease outlived the straggler's commitment: %v", err)
	}
}

// A backup that vanishes leaves the straggler to finish alone: the task
// wants one result again.
func TestBackupLapsesAlone(t *testing.T) {
	ps := testPeers(t, 2)
	c := newCoord(t, backupConfig())
	slow := mustLease(t, c, t0, ps[0], "")
	if _, err := c.LeaseBackup(t0.Add(2*time.Minute), ps[1], ""); err != nil {
		t.Fatal(err)
	}
	late := t0.Add(2*time.Minute + ttl) // the backup was never renewed
	if _, err := c.Renew(t0.Add(2*time.Minute+ttl/2), slow.ID, ps[0]); err != nil {
		t.Fatal(err)
	}
	c.Expire(late)
	c.mu.Lock()
	want, racers := c.tasks[0].want, c.tasks[0].racers
	c.mu.Unlock()
	if want != 1 || racers != 0 {
		t.Fatalf("after the backup lapsed the task wants %d (%d racers), want 1", want, racers)
	}
	deliver(t, c, late, slow, "frame")
	if _, err := c.Lease(late, ps[1], ""); !errors.Is(err, ErrNoWork) && !errors.Is(err, ErrJobDone) {
		t.Fatalf("a new replica went out after the straggler delivered: %v", err)
	}
}

// The second replica of a task replicated for verification is backed up
// like a lone one, by an established peer only; the first of the backup
// and the straggler to commit keeps its place beside the first replica.
func TestBackupOfAReplicatedTask(t *testing.T) {
	ps := testPeers(t, 4)
	cfg := backupConfig()
	cfg.Replicas = 2
	newcomer := ps[3]
	cfg.Standing = func(p peer.ID) Standing {
		if p == newcomer {
			return Standing{}
		}
		return Standing{Verified: 100, Jobs: 10, ConsecutiveValid: 1000}
	}
	c := newCoord(t, cfg)
	first := mustLease(t, c, t0, ps[0], "")
	slow := mustLease(t, c, t0, ps[1], "")
	deliver(t, c, t0.Add(time.Minute), first, "frame")
	if _, err := c.LeaseBackup(t0.Add(2*time.Minute), newcomer, ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("a new peer backed up a replicated task: %v", err)
	}
	backup, err := c.LeaseBackup(t0.Add(2*time.Minute), ps[2], "")
	if err != nil || backup.Task != slow.Task {
		t.Fatalf("backup of the second replica: %+v, %v", backup, err)
	}
	deliver(t, c, t0.Add(3*time.Minute), backup, "frame")
	if _, err := c.Renew(t0.Add(3*time.Minute), slow.ID, ps[1]); !errors.Is(err, ErrLeaseClosed) {
		t.Fatalf("the straggler's lease after its backup committed: %v", err)
	}
	if p := c.Pending(); len(p) != 1 || len(p[0].Results) != 2 {
		t.Fatalf("pending %+v, want the task with the first replica's and the backup's results", p)
	}
}

// Backups go by pace: a peer as slow as the straggler is expected to be
// does not race it, a fast one does, and a faster one still replaces the
// slower of the two racers. Pace is learnt from the peers' earlier
// commitments in the job and from the progress their renewals report.
func TestBackupsGoByPace(t *testing.T) {
	ps := testPeers(t, 4)
	straggler, slowPeer, fastPeer, fastest := ps[0], ps[1], ps[2], ps[3]
	cfg := backupConfig() // a slow machine's render: 4 minutes
	cfg.Tasks = tasksOf(cfg.Job, 4, 1)
	c := newCoord(t, cfg)
	s := mustLease(t, c, t0, straggler, "")
	w := mustLease(t, c, t0, slowPeer, "")
	f := mustLease(t, c, t0, fastPeer, "")
	x := mustLease(t, c, t0, fastest, "")
	deliver(t, c, t0.Add(30*time.Second), x, "x") // a sixteenth of a slow render
	deliver(t, c, t0.Add(time.Minute), f, "f")    // a quarter
	deliver(t, c, t0.Add(4*time.Minute), w, "w")  // a slow machine

	now := t0.Add(5 * time.Minute)
	// Nothing known of the straggler: it might commit within a reference
	// render (a minute), before the slow peer could.
	if _, err := c.LeaseBackup(now, slowPeer, ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("a slow peer raced a straggler that might be about to commit: %v", err)
	}
	c.Report(now, s.ID, straggler, 0.1)  // due at 50 minutes
	c.Report(now, s.ID, straggler, 0.05) // not progress: ignored
	now = now.Add(raceEvery)             // the candidates are looked at anew
	w2, err := c.LeaseBackup(now, slowPeer, "")
	if err != nil || w2.Task != s.Task {
		t.Fatalf("a slow peer, 4 minutes a render, did not race a render due in 35: %+v, %v", w2, err)
	}
	// The race is due in 4 minutes now: a peer taking a minute beats it,
	// and replaces the straggler, the slower racer.
	fl := mustBackup(t, c, now, fastPeer, "", s.Task, "a fast peer did not join the race")
	if _, err := c.Renew(now, s.ID, straggler); !errors.Is(err, ErrLeaseClosed) {
		t.Fatalf("the slowest racer was not withdrawn: %v", err)
	}
	// Due in a minute now: the fastest peer, 15 s a render, replaces the
	// slow peer.
	now = now.Add(raceEvery)
	xl := mustBackup(t, c, now, fastest, "", s.Task, "the fastest peer did not join the race")
	if _, err := c.Renew(now, w2.ID, slowPeer); !errors.Is(err, ErrLeaseClosed) {
		t.Fatalf("the slower racer was not withdrawn: %v", err)
	}
	if _, err := c.Renew(now, fl.ID, fastPeer); err != nil {
		t.Fatalf("the faster racer was withdrawn: %v", err)
	}
	deliver(t, c, now.Add(15*time.Second), xl, "s")
	if _, err := c.Renew(now.Add(15*time.Second), fl.ID, fastPeer); !errors.Is(err, ErrLeaseClosed) {
		t.Fatalf("the race went on after a commitment: %v", err)
	}
	c.mu.Lock()
	pts := c.points[straggler] + c.points[slowPeer] + c.points[fastPeer]
	c.mu.Unlock()
	if pts != 0 {
		t.Errorf("withdrawn racers were charged %d failure points", pts)
	}
	if p := c.Pending(); len(p) != 4 {
		t.Fatalf("%d tasks pending, want all 4", len(p))
	}
}

// A task replicated at issue whose two replicas both render slowly is
// backed up too: the backup races the replica expected last, and the
// first of those two to commit keeps the place beside the other replica,
// which renders on undisturbed. A restart keeps the race.
func TestBackupOfTwoReplicasOut(t *testing.T) {
	ps := testPeers(t, 3)
	cfg := backupConfig()
	cfg.Replicas = 2
	c := newCoord(t, cfg)
	steady := mustLease(t, c, t0, ps[0], "")
	slow := mustLease(t, c, t0, ps[1], "")
	now := t0.Add(2 * time.Minute)
	c.Report(now, steady.ID, ps[0], 0.5) // due at 4 minutes
	c.Report(now, slow.ID, ps[1], 0.1)   // due at 20
	backup, err := c.LeaseBackup(now, ps[2], "")
	if err != nil || backup.Task != slow.Task {
		t.Fatalf("backup of a task with two slow replicas out: %+v, %v", backup, err)
	}
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, c, now.Add(time.Minute), backup, "frame")
	if _, err := c.Renew(now.Add(time.Minute), slow.ID, ps[1]); !errors.Is(err, ErrLeaseClosed) {
		t.Fatalf("the replica expected last after its backup committed: %v, want ErrLeaseClosed", err)
	}
	if _, err := c.Renew(now.Add(time.Minute), steady.ID, ps[0]); err != nil {
		t.Fatalf("the other replica was withdrawn: %v", err)
	}
	deliver(t, c, now.Add(2*time.Minute), steady, "frame")
	if p := c.Pending(); len(p) != 1 || len(p[0].Results) != 2 {
		t.Fatalf("pending %+v, want the task with the steady replica's and the backup's results", p)
	}
	if c.points[ps[1]] != 0 {
		t.Errorf("the withdrawn replica's peer was charged %d failure points", c.points[ps[1]])
	}

	// After a restart the first of the three to commit withdraws one of
	// the other two, and the task still takes two results.
	r, err := Restore(cfg, snap, now)
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, r, now.Add(time.Minute), backup, "frame")
	open := 0
	var last Lease
	for i, l := range []Lease{steady, slow} {
		if _, err := r.Renew(now.Add(time.Minute), l.ID, ps[i]); err == nil {
			open, last = open+1, l
		}
	}
	if open != 1 {
		t.Fatalf("after a restart %d of the two replicas raced renew after the backup committed, want 1", open)
	}
	deliver(t, r, now.Add(2*time.Minute), last, "frame")
	if p := r.Pending(); len(p) != 1 || len(p[0].Results) != 2 {
		t.Fatalf("after a restart pending %+v, want the task with two results", p)
	}
}

// Attack: a holder reports its render all but done at once, then neither
// commits nor lets its lease lapse, to keep a job's last frame from
// everyone until MaxLease. A report the render belies is believed less
// the longer it is belied: an idle peer races the task within minutes.
func TestFakeProgressDoesNotHoldTask(t *testing.T) {
	ps := testPeers(t, 2)
	liar, idle := ps[0], ps[1]
	c := newCoord(t, backupConfig())
	l := mustLease(t, c, t0, liar, "")
	c.Report(t0.Add(10*time.Second), l.ID, liar, 0.99)
	c.NoteSpeed(idle, 1) // a reference machine: a minute a render
	for now := t0.Add(20 * time.Second); ; now = now.Add(10 * time.Second) {
		if _, err := c.Renew(now, l.ID, liar); err != nil {
			t.Fatal(err)
		}
		b, err := c.LeaseBackup(now, idle, "")
		if err == nil {
			if b.Task != l.Task {
				t.Fatalf("backup of %s, want %s", b.Task, l.Task)
			}
			if d := now.Sub(t0); d > 3*time.Minute {
				t.Errorf("raced only after %v; a reference machine renders the task in a minute", d)
			}
			return
		}
		if !errors.Is(err, ErrNoWork) {
			t.Fatal(err)
		}
		if now.Sub(t0) > 30*time.Minute {
			t.Fatal("a holder that reported 99 % at once and never committed is not raced after 30 minutes")
		}
	}
}

// A peer that says it is slow is raced as soon as a faster idle peer asks,
// before its renewals report any progress: a job's last frames are not
// left to a slow machine for the first minutes of its render.
func TestBackupOfSaidSlowPeer(t *testing.T) {
	ps := testPeers(t, 2)
	slow, fast := ps[0], ps[1]
	c := newCoord(t, backupConfig())
	c.NoteSpeed(slow, 0.25) // 4 minutes a render
	c.NoteSpeed(fast, 2)    // 30 s
	l := mustLease(t, c, t0, slow, "")
	b, err := c.LeaseBackup(t0.Add(5*time.Second), fast, "")
	if err != nil || b.Task != l.Task {
		t.Fatalf("a peer twice the reference's speed did not race one a quarter of it: %+v, %v", b, err)
	}
}

// While as many peers ask for backups as there are replicas to race, an
// idle peer insures the job's last task even when it would not commit
// first: when the holder then vanishes, the task is done at the insurer's
// pace instead of going out again once the lease expires. With fewer
// idle askers than replicas out, nobody insures.
func TestInsuranceRace(t *testing.T) {
	ps := testPeers(t, 4)
	holder, other, idle := ps[0], ps[1], ps[2]
	cfg := backupConfig()
	cfg.Tasks = tasksOf(cfg.Job, 2, 1)
	c := newCoord(t, cfg)
	for _, p := range ps {
		c.NoteSpeed(p, 1) // a minute a render
	}
	h := mustLease(t, c, t0, holder, "")
	o := mustLease(t, c, t0, other, "")
	now := t0.Add(10 * time.Second)
	if _, err := c.LeaseBackup(now, idle, ""); !errors.Is(err, ErrNoWork) {
		t.Fatalf("one idle asker for two replicas out insured one: %v", err)
	}
	deliver(t, c, t0.Add(55*time.Second), o, "o")
	now = t0.Add(20 * time.Second).Add(raceEvery) // the races are looked at anew
	ins, err := c.LeaseBackup(now, idle, "")
	if err != nil || ins.Task != h.Task {
		t.Fatalf("an idle peer did not insure the last task out: %+v, %v", ins, err)
	}
	// The holder vanishes; the insurer commits before its lease expires.
	done := now.Add(time.Minute)
	deliver(t, c, done, ins, "h")
	if _, err := c.Renew(done, h.ID, holder); !errors.Is(err, ErrLeaseClosed) {
		t.Fatalf("the holder's lease after the insurer committed: %v", err)
	}
	var got bool
	for _, pt := range c.Pending() {
		got = got || pt.Task == h.Task && len(pt.Results) == 1 && pt.Results[0].Peer == idle
	}
	if !got {
		t.Fatalf("pending %+v, want the last task with the insurer's result, a minute after the insurance began", c.Pending())
	}
	if c.points[holder] != 0 {
		t.Errorf("the withdrawn holder was charged %d failure points", c.points[holder])
	}
}

// Attack: two established colluders on different prefixes ask for
// backups one after the other when a task replicated for verification has
// both its replicas on slow machines. Backups go to whoever asks, so two
// racers of the task could both commit first and hold both its results:
// only one of them races it. The other gets nothing of it, not even as
// insurance while peers stand idle.
func TestBackupsDoNotPairOnAVerifiedTask(t *testing.T) {
	ps := testPeers(t, 4)
	slowA, slowB, c1, c2 := ps[0], ps[1], ps[2], ps[3]
	cfg := backupConfig()
	cfg.Replicas = 2
	c := newCoord(t, cfg)
	for _, p := range ps {
		c.NoteSpeed(p, 2) // 30 s a render
	}
	c.NoteSpeed(slowA, 0.25) // 4 minutes
	c.NoteSpeed(slowB, 0.25)
	a := mustLease(t, c, t0, slowA, "10.1")
	b := mustLease(t, c, t0, slowB, "10.2")
	now := t0.Add(10 * time.Second)
	first := mustBackup(t, c, now, c1, "10.3", a.Task, "first backup")
	for k := range 3 {
		now = now.Add(raceEvery) // the races are looked at anew
		if l, err := c.LeaseBackup(now, c2, "10.4"); !errors.Is(err, ErrNoWork) {
			t.Fatalf("ask %d: a second backup of a task replicated for verification: %+v, %v", k, l, err)
		}
	}
	// A restart remembers which replica is a backup.
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Restore(cfg, snap, now)
	if err != nil {
		t.Fatal(err)
	}
	r.NoteSpeed(c2, 2)
	for _, l := range []Lease{a, b, first} {
		done := 0.05
		if l == first {
			done = 0.5
		}
		r.Report(now, l.ID, l.Peer, done)
	}
	if l, err := r.LeaseBackup(now.Add(raceEvery), c2, "10.4"); !errors.Is(err, ErrNoWork) {
		t.Fatalf("after a restart, a second backup of a task replicated for verification: %+v, %v", l, err)
	}
	// The first racer commits: one slow replica is withdrawn, and the
	// task still takes a result from the other.
	deliver(t, c, now.Add(20*time.Second), first, "frame")
	open := 0
	for i, l := range []Lease{a, b} {
		if _, err := c.Renew(now.Add(20*time.Second), l.ID, ps[i]); err == nil {
			open++
		}
	}
	if open != 1 {
		t.Fatalf("%d of the two slow replicas still out after the racer committed, want 1", open)
	}
}

// A task replicated for verification races one backup at a time, but a
// faster backup replaces a slow racer the task waits for: a task whose
// two replicas went to slow machines is not left to a racer hardly
// faster.
func TestFasterBackupReplacesSlowRacer(t *testing.T) {
	ps := testPeers(t, 4)
	slowA, slowB, racer, fast := ps[0], ps[1], ps[2], ps[3]
	cfg := backupConfig()
	cfg.Replicas = 2
	c := newCoord(t, cfg)
	c.NoteSpeed(slowA, 0.5) // 2 minutes a render
	c.NoteSpeed(slowB, 0.2) // 5 minutes
	c.NoteSpeed(racer, 0.4) // 2.5 minutes: it beats slowB, and the task then waits for it
	c.NoteSpeed(fast, 2)    // 30 s
	a := mustLease(t, c, t0, slowA, "10.1")
	mustLease(t, c, t0, slowB, "10.2")
	now := t0.Add(10 * time.Second)
	r := mustBackup(t, c, now, racer, "10.3", a.Task, "first backup")
	now = now.Add(raceEvery)
	mustBackup(t, c, now, fast, "10.4", a.Task, "a backup five times faster did not replace the slow racer")
	mustBeReplaced(t, c, now, r)
}

// A task replicated for verification whose two replicas went to slow
// machines waits for two commitments: its racer's, then the other slow
// replica's, which may be raced only once the racer has committed. So a
// peer much faster than the racer replaces it even when the racer would
// beat the slow replica it races, and the sooner the task's second race
// begins. Only a peer whose pace on the job was measured: a speed merely
// said does not take a useful race from another peer.
func TestMuchFasterBackupReplacesUsefulRacer(t *testing.T) {
	ps := testPeers(t, 5)
	slowA, slowB, racer, claimer, fast := ps[0], ps[1], ps[2], ps[3], ps[4]
	cfg := backupConfig()
	cfg.Replicas = 2
	c := newCoord(t, cfg)
	c.NoteSpeed(slowA, 0.25) // 4 minutes a render
	c.NoteSpeed(slowB, 0.2)  // 5 minutes
	c.NoteSpeed(racer, 1)    // a minute: it beats both
	c.NoteSpeed(claimer, 4)  // 15 s, it says
	a := mustLease(t, c, t0, slowA, "10.1")
	mustLease(t, c, t0, slowB, "10.2")
	now := t0.Add(10 * time.Second)
	r := mustBackup(t, c, now, racer, "10.3", a.Task, "first backup")
	now = now.Add(raceEvery)
	if l, err := c.LeaseBackup(now, claimer, "10.4"); !errors.Is(err, ErrNoWork) {
		t.Fatalf("a peer that only says it is fast took the race: %+v, %v", l, err)
	}
	c.mu.Lock() // as if fast had rendered a task of the job in 30 s
	c.pace = map[peer.ID]float64{fast: 0.125}
	c.paceSum = 0.125
	c.mu.Unlock()
	now = now.Add(raceEvery)
	mustBackup(t, c, now, fast, "10.5", a.Task, "a backup twice as fast, its pace measured, did not replace the racer")
	mustBeReplaced(t, c, now, r)
}

// mustBeReplaced checks that the racer of lease r was withdrawn, without
// a failure charged to its peer.
func mustBeReplaced(t *testing.T, c *Coordinator, now time.Time, r Lease) {
	t.Helper()
	if _, err := c.Renew(now, r.ID, r.Peer); !errors.Is(err, ErrLeaseClosed) {
		t.Fatalf("the replaced racer's lease: %v, want ErrLeaseClosed", err)
	}
	if pts := c.points[r.Peer]; pts != 0 {
		t.Errorf("the replaced racer was charged %d failure points", pts)
	}
}
