package scheduler

import (
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
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
	want, racing := c.tasks[0].want, c.tasks[0].racing
	c.mu.Unlock()
	if want != 1 || racing {
		t.Fatalf("after the backup lapsed the task wants %d (racing %v), want 1", want, racing)
	}
	deliver(t, c, late, slow, "frame")
	if _, err := c.Lease(late, ps[1], ""); !errors.Is(err, ErrNoWork) && !errors.Is(err, ErrJobDone) {
		t.Fatalf("a new replica went out after the straggler delivered: %v", err)
	}
}
