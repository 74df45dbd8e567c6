package publisher

import (
	"errors"
	"fmt"
	"image"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/roletest"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/scheduler"
)

// A publisher restarted on a job of 100,000 frames, 50,000 of them
// decided and credited and others leased, rendered or delivered, resumes
// it as it was: the same counts, every decided task still decided, the
// same leases open. It logs how long the restart took and the memory the
// job holds per task (DESIGN.md §8: under 2 s). With -short, a tenth of
// the job.
func TestRestartLargeJob(t *testing.T) {
	frames, decided := 100_000, 50_000
	if testing.Short() {
		frames, decided = 10_000, 5_000
	}
	tb := newTestbed(t, nil)
	// Both replicas of a task at once: the set-up leases far faster than
	// volunteers would.
	tb.p.cfg.Tune = func(c *scheduler.Config) { c.ReplicaGap = -1 }
	m := tb.publish(fmt.Sprintf("1-%d", frames), 2)
	id, _ := m.ID()
	j := tb.job(id)
	// Four established volunteers (NewVolunteerVerified results over
	// NewVolunteerJobs earlier jobs) take the tasks two by two.
	var vs []peer.ID
	var pays []credits.Payment
	for range 4 {
		_, v := roletest.Identity(t)
		vs = append(vs, v)
		for k := range scheduler.NewVolunteerJobs {
			h, _ := mh.Sum([]byte(fmt.Sprint("earlier job ", k)), mh.SHA2_256, -1)
			for f := range scheduler.NewVolunteerVerified {
				pays = append(pays, credits.Payment{Volunteer: v, Task: job.Task{Job: cid.NewCidV1(job.JSONCodec, h), Frame: f}, Result: simResult, CU: 1})
			}
		}
	}
	if _, err := tb.p.cfg.Ledger.IssueAll(tb.clock.Now(), tb.p.cfg.Key, pays); err != nil {
		t.Fatal(err)
	}
	digest := credits.Digest(image.NewNRGBA(image.Rect(0, 0, m.Width, m.Height)))
	start := time.Now()
	done, leased := 0, 0
	for round := 0; done < decided+100 && time.Since(start) < 5*time.Minute; round++ {
		j.mu.Lock()
		var ls []scheduler.Lease
		for i := 0; i < 2*len(vs); i++ {
			l, err := j.coord.Lease(tb.clock.Now(), vs[i%len(vs)], "")
			if errors.Is(err, scheduler.ErrBusy) || errors.Is(err, scheduler.ErrNoWork) {
				continue
			}
			if err != nil {
				j.mu.Unlock()
				t.Fatal(err)
			}
			ls = append(ls, l)
		}
		for _, l := range ls {
			if _, err := j.coord.Commit(tb.clock.Now(), l.ID, l.Peer, job.Commit(l.Salt, digest)); err != nil {
				j.mu.Unlock()
				t.Fatal(err)
			}
		}
		for _, l := range ls {
			if ok, _ := j.coord.Revealed(tb.clock.Now(), l.ID, l.Peer); ok {
				if err := j.coord.Deliver(tb.clock.Now(), l.ID, l.Peer, scheduler.Result{CID: simResult, Digest: digest}); err != nil {
					j.mu.Unlock()
					t.Fatal(err)
				}
			}
		}
		leased += len(ls)
		if done < decided && round%25 == 0 {
			for _, tr := range j.coord.Pending() {
				if err := j.coord.Resolve(tr.Task, job.Decision{Verdict: job.Accept, Canonical: 0, Agreeing: []int{0, 1}[:len(tr.Results)]}); err != nil {
					j.mu.Unlock()
					t.Fatal(err)
				}
				j.coord.MarkCredited(tr.Task)
				done++
			}
		} else if done >= decided {
			done += len(ls) // the rest stays delivered and undecided
		}
		if round%250 != 0 && done < decided+100 {
			j.mu.Unlock()
			continue
		}
		saved := tb.p.save(j)
		j.mu.Unlock()
		if err := tb.p.persist(saved); err != nil {
			t.Fatal(err)
		}
	}
	before, err := tb.p.Status(id)
	if err != nil {
		t.Fatal(err)
	}
	if before.Counts.Verified < decided {
		t.Fatalf("set-up decided %d tasks in %v, want %d", before.Counts.Verified, time.Since(start).Round(time.Second), decided)
	}
	t.Logf("set-up: %d leases, %d tasks verified in %v", leased, before.Counts.Verified, time.Since(start).Round(time.Millisecond))

	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	restartAt := time.Now()
	again, err := New(t.Context(), tb.p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(restartAt)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	t.Logf("restart of a %d-task job with %d decided: %v; %d bytes of heap per task", frames, before.Counts.Verified, took.Round(time.Millisecond), (int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/int64(frames))
	after, err := again.Status(id)
	if err != nil {
		t.Fatal(err)
	}
	if after.Counts != before.Counts {
		t.Errorf("after the restart %+v, before %+v", after.Counts, before.Counts)
	}
	ja, _ := again.job(id)
	jb := j
	for f := 1; f <= frames; f += 997 {
		task := job.Task{Job: id, Frame: f}
		_, _, acceptedBefore := jb.coord.Accepted(task)
		_, _, acceptedAfter := ja.coord.Accepted(task)
		if acceptedBefore != acceptedAfter || jb.coord.Credited(task) != ja.coord.Credited(task) {
			t.Fatalf("frame %d: accepted %v credited %v before, %v %v after", f, acceptedBefore, jb.coord.Credited(task), acceptedAfter, ja.coord.Credited(task))
		}
	}
	if len(ja.coord.Pending()) != len(jb.coord.Pending()) {
		t.Errorf("%d tasks pending verification after the restart, %d before", len(ja.coord.Pending()), len(jb.coord.Pending()))
	}
	runtime.KeepAlive(tb.p)
}

// A peer blocked for its failures stays blocked after a restart, and its
// failure points are a row of their own: the job's header, written at
// every change, does not name it.
func TestRestartKeepsFailurePoints(t *testing.T) {
	tb := newTestbed(t, nil)
	m := tb.publish("1-20", 1)
	id, _ := m.ID()
	j := tb.job(id)
	_, bad := roletest.Identity(t)
	blocked := false
	for range 50 {
		j.mu.Lock()
		l, err := j.coord.Lease(tb.clock.Now(), bad, "")
		if errors.Is(err, scheduler.ErrBlocked) {
			j.mu.Unlock()
			blocked = true
			break
		}
		if err == nil {
			err = j.coord.Fail(tb.clock.Now(), l.ID, bad)
		}
		saved := tb.p.save(j)
		j.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if err := tb.p.persist(saved); err != nil {
			t.Fatal(err)
		}
	}
	if !blocked {
		t.Fatal("a peer failing every task was never blocked")
	}
	var header string
	if err := tb.p.cfg.DB.QueryRow(`SELECT snapshot FROM published_jobs WHERE id = ?`, id.String()).Scan(&header); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(header, bad.String()) {
		t.Errorf("the job's header names the failing peer: %s", header)
	}
	again, err := New(t.Context(), tb.p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := again.job(id)
	ja.mu.Lock()
	_, err = ja.coord.Lease(tb.clock.Now(), bad, "")
	ja.mu.Unlock()
	if !errors.Is(err, scheduler.ErrBlocked) {
		t.Fatalf("after a restart the blocked peer's lease: %v, want ErrBlocked", err)
	}
}
