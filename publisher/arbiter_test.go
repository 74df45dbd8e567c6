package publisher

import (
	"image"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/scheduler"
	"github.com/renderswarm/renderswarm/work"
)

// Results that disagree are arbitrated by the publisher's own crop: new
// peers delivering junk, each different, are refuted and struck one by
// one, and cannot run a task out of its result budget (five disagreeing
// results used to fail it). Honest volunteers then finish it.
func TestJunkCannotFailATask(t *testing.T) {
	tb := newTestbed(t, nil)
	tb.run()
	m := tb.publish("1", 2)
	id, _ := m.ID()
	task := job.Task{Job: id, Frame: 1}
	const junk = scheduler.DefaultMaxResults
	var grants []*work.Grant
	var cheaters []*volunteer
	lease := func(v *volunteer) *work.Grant {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			a := v.lease(m)
			if a.Grant != nil {
				return a.Grant
			}
			if a.Retry == work.RetryDone {
				st, _ := tb.p.Status(id)
				t.Fatalf("the job ended %s with %+v before honest volunteers got the task", st.State, st.Counts)
			}
			if time.Now().After(deadline) {
				st, _ := tb.p.Status(id)
				t.Fatalf("no lease for 30 s: job %s %+v", st.State, st.Counts)
			}
			tb.clock.Advance(work.RetryNoWork)
			time.Sleep(5 * time.Millisecond) // the verifier decides in its own goroutine
		}
	}
	for i := range junk {
		v := tb.volunteer()
		g := lease(v)
		png, _ := v.renderWith(g, func(img *image.NRGBA) {
			for k := range img.Pix {
				if k%4 == 1 {
					img.Pix[k] ^= byte(i + 1) // each cheater its own junk
				}
			}
		})
		v.deliver(g, png)
		cheaters, grants = append(cheaters, v), append(grants, g)
	}
	var honest []*volunteer
	for range 2 {
		v := tb.volunteer()
		g := lease(v)
		png, _ := v.render(g)
		v.deliver(g, png)
		honest = append(honest, v)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := tb.p.Status(id)
		if err != nil {
			t.Fatal(err)
		}
		if st.Done() && st.Counts.Verified != 1 {
			t.Fatalf("the task ended %s with %+v; want it verified", st.State, st.Counts)
		}
		if st.Done() && creditedAll(t, tb, honest) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job not done in 30 s: %+v", st.Counts)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, v := range honest {
		if rs, _ := tb.p.Receipts(t.Context(), v.id); len(rs) != 1 {
			t.Errorf("an honest volunteer has %d receipts, want 1", len(rs))
		}
	}
	var strikes int
	if err := tb.p.cfg.DB.QueryRow(`SELECT count(*) FROM credits_strikes WHERE task = ?`, task.String()).Scan(&strikes); err != nil {
		t.Fatal(err)
	}
	if strikes != junk {
		t.Errorf("%d strikes for %d junk results", strikes, junk)
	}
	for _, v := range cheaters {
		if rs, _ := tb.p.Receipts(t.Context(), v.id); len(rs) != 0 {
			t.Errorf("a cheater got %d receipts", len(rs))
		}
	}
}
