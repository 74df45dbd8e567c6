package scheduler

import "testing"

func TestLeaseTask(t *testing.T) {
	id := testJob("lookup")
	c := newCoord(t, Config{Job: id, Tasks: tasksOf(id, 2, 1), Replicas: 2, LeaseTTL: ttl})
	l, err := c.Lease(t0, testPeer(t, 1), "")
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := c.LeaseTask(l.ID); !ok || got != l.Task {
		t.Fatalf("LeaseTask(%s) = %v, %v; want %v", l.ID, got, ok, l.Task)
	}
	if _, ok := c.LeaseTask("no-such-lease"); ok {
		t.Fatal("an unknown lease has a task")
	}
}
