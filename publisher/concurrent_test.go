package publisher

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/internal/roletest"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/scheduler"
	"github.com/renderswarm/renderswarm/work"
)

// Many volunteers deliver for many tasks at once while the publisher
// verifies several tasks in parallel: every task is decided exactly once
// and every agreeing volunteer credited exactly once for it.
func TestConcurrentDeliveriesDecidedOnce(t *testing.T) {
	tb := newTestbed(t, nil)
	tb.run()
	const frames, replicas = 12, 2
	m := tb.publish("1-12", replicas)
	id, _ := m.ID()
	var vs []*volunteer
	for range 8 {
		vs = append(vs, tb.volunteer())
	}
	type held struct {
		v   *volunteer
		g   *work.Grant
		png []byte
	}
	var undelivered []held
	delivered := map[*volunteer]int{}
	for round, granted := 0, true; granted || len(undelivered) > 0; round++ {
		if round > 20 {
			t.Fatalf("%d results still undelivered after 20 rounds", len(undelivered))
		}
		// Every volunteer asks for a lease; the grants render and commit
		// at once.
		var grants []held
		for _, v := range vs {
			if a := v.lease(m); a.Grant != nil {
				grants = append(grants, held{v: v, g: a.Grant})
			}
		}
		var wg sync.WaitGroup
		for i := range grants {
			wg.Go(func() { grants[i].png, _ = grants[i].v.render(grants[i].g) })
		}
		wg.Wait()
		granted = len(grants) > 0
		undelivered = append(undelivered, grants...)
		// Those whose task let them deliver, all at once.
		ok := make([]bool, len(undelivered))
		for i, h := range undelivered {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
				defer cancel()
				if reveal, err := tb.p.Await(ctx, h.v.id, h.g.Ref); err != nil || !reveal {
					return
				}
				if err := tb.p.Deliver(t.Context(), h.v.id, work.Delivery{Ref: h.g.Ref, CU: 1000}, &roletest.Body{Data: h.png}); err != nil {
					t.Errorf("delivering %s: %v", h.g.Task, err)
				}
				ok[i] = true
			})
		}
		wg.Wait()
		var left []held
		for i, h := range undelivered {
			if ok[i] {
				delivered[h.v]++
			} else {
				left = append(left, h)
			}
		}
		undelivered = left
		tb.clock.Advance(scheduler.DefaultReplicaGap)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := tb.p.Status(id)
		if err != nil {
			t.Fatal(err)
		}
		// A worker logs its decision after applying it: wait for the
		// logs too before counting them.
		if st.Done() && st.Counts.Verified == frames && receiptsOf(t, tb, vs) == frames*replicas &&
			tb.log.Count("taskDecided") >= frames {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: job %s %+v, %d receipts, %d decisions logged; want %d frames verified, %d receipts",
				st.State, st.Counts, receiptsOf(t, tb, vs), tb.log.Count("taskDecided"), frames, frames*replicas)
		}
		time.Sleep(10 * time.Millisecond)
	}
	pj := tb.job(id)
	pj.mu.Lock()
	if n := len(pj.claims); n != 0 {
		t.Errorf("the publisher still holds the claims of %d credited tasks in memory", n)
	}
	pj.mu.Unlock()
	for f := 1; f <= frames; f++ {
		task := job.Task{Job: id, Frame: f}
		if n := tb.log.Count("taskDecided", "task="+task.String()); n != 1 {
			t.Errorf("frame %d decided %d times, want once", f, n)
		}
	}
	for _, v := range vs {
		receipts, err := tb.p.Receipts(t.Context(), v.id)
		if err != nil || len(receipts) != delivered[v] {
			t.Errorf("a volunteer that delivered %d results holds %d receipts (%v)", delivered[v], len(receipts), err)
		}
		seen := map[job.Task]bool{}
		for _, s := range receipts {
			r, _ := s.Verify()
			if seen[r.Task] {
				t.Errorf("two receipts for %s", r.Task)
			}
			seen[r.Task] = true
		}
	}
}

// receiptsOf counts the receipts the publisher issued to vs.
func receiptsOf(t *testing.T, tb *testbed, vs []*volunteer) int {
	n := 0
	for _, v := range vs {
		receipts, err := tb.p.Receipts(t.Context(), v.id)
		if err != nil {
			t.Fatal(err)
		}
		n += len(receipts)
	}
	return n
}
