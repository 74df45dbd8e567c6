package adversary

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Tandem makes a group of identities ask for work back to back: a member
// that wants a lease waits until every member wants one (or tandemWait
// passed), then their requests go out one right after the other. Today
// the replicas of a task go to consecutive askers, so a tandem holds every
// replica of the tasks it gets.
type Tandem struct {
	size int

	mu    sync.Mutex
	batch []*tandemAsk
}

type tandemAsk struct {
	lease func() // the member's own request
	done  chan struct{}
}

// tandemWait bounds how long a member waits for the others (one may have
// stopped working).
const tandemWait = 2 * time.Second

// NewTandem returns a tandem of size members.
func NewTandem(size int) *Tandem { return &Tandem{size: max(size, 1)} }

// ask runs lease back to back with the other members' requests: the member
// that completes the batch (or whose wait ends first) sends them all.
func (t *Tandem) ask(ctx context.Context, lease func()) {
	a := &tandemAsk{lease: lease, done: make(chan struct{})}
	t.mu.Lock()
	t.batch = append(t.batch, a)
	run := t.take(len(t.batch) >= t.size)
	t.mu.Unlock()
	if run == nil {
		timer := time.NewTimer(tandemWait)
		defer timer.Stop()
		select {
		case <-a.done:
			return
		case <-timer.C:
		case <-ctx.Done():
		}
		t.mu.Lock()
		run = t.take(slices.Contains(t.batch, a))
		t.mu.Unlock()
		if run == nil {
			<-a.done // another member is sending this batch
			return
		}
	}
	for _, b := range run {
		b.lease()
		close(b.done)
	}
}

// take empties the batch when ok; call with t.mu held.
func (t *Tandem) take(ok bool) []*tandemAsk {
	if !ok {
		return nil
	}
	run := t.batch
	t.batch = nil
	return run
}
