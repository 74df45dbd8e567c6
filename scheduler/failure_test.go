package scheduler

import (
	"testing"
	"time"
)

// A task whose render fails on MaxRenderFailures distinct peers is given up
// (the scene is at fault); a release, an expiry or a single failure is not
// enough; the state survives a snapshot.
func TestRenderFailuresFailTheTask(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	p := testPeers(t, 4)
	c := newCoord(t, testConfig(2, 2))

	l := mustLease(t, c, t0, p[0], "")
	if err := c.Release(t0, l.ID, p[0]); err != nil {
		t.Fatal(err)
	}
	l = mustLease(t, c, t0, p[1], "")
	if err := c.Fail(t0, l.ID, p[1]); err != nil {
		t.Fatal(err)
	}
	if st := c.TaskStates()[frameTask(1)]; st != TaskQueued {
		t.Fatalf("after a release and one failure frame 1 is %s; want queued", st)
	}
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Restore(testConfig(2, 2), snap, t0)
	if err != nil {
		t.Fatal(err)
	}
	l = mustLease(t, c2, t0, p[2], "")
	if l.Task != frameTask(1) {
		t.Fatalf("leased %v; want frame 1 again", l.Task)
	}
	if err := c2.Fail(t0, l.ID, p[2]); err != nil {
		t.Fatal(err)
	}
	if st := c2.TaskStates()[frameTask(1)]; st != TaskFailed {
		t.Fatalf("after two peers failed it, frame 1 is %s; want failed", st)
	}
	if n := c2.Progress(); n.Failed != 1 || n.Queued != 1 {
		t.Fatalf("progress = %+v; want 1 failed, 1 queued", n)
	}
	// The next lease goes to frame 2.
	if l := mustLease(t, c2, t0, p[3], ""); l.Task != frameTask(2) {
		t.Fatalf("leased %v after frame 1 failed; want frame 2", l.Task)
	}
}
