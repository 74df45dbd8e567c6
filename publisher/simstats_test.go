package publisher

// What a simulation run measures (simStats), how it samples fairness,
// and the traces RS_SIM_TAIL and RS_SIM_BUSY write.

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/renderswarm/renderswarm/credits"
)

// simStats is what a run measured.
type simStats struct {
	Frames, Accepted, Wrong, Failed int
	Renders                         float64 // renders by volunteers, honest work done (a check replica's crop counts its share of a frame)
	Checks                          int     // check replicas volunteers rendered (crops)
	Parts                           int     // of Checks, parts of a second render split while peers stood idle
	Deliveries                      int     // results delivered, honest or not
	CropChecks                      int     // the publishers' own crop renders
	PaidCU, UnearnedCU              float64 // CU in receipts, and in receipts for work not done
	Caught                          int     // strikes recorded
	Makespan                        time.Duration
	Bound                           time.Duration // total work ÷ mean capacity, or the longest chain
	Work                            time.Duration // renders needed at least, at speed 1
	Rendered                        time.Duration // renders done, verification and renders abandoned included, at speed 1
	BoundDone                       time.Duration // Rendered ÷ mean capacity, or the longest chain: the scheduling's own bound
	Kept                            time.Duration // renders delivered and used (frames, their replicas, check crops), at speed 1
	BoundKept                       time.Duration // Kept ÷ mean capacity, or the longest chain: the bound with the verification's work
	PublisherTime                   time.Duration // wall time spent in publisher code
	Events                          int
	// FairnessJain is Jain's index of the capacity (volunteers' speed)
	// rendering for each publisher that had tasks nobody had tried yet,
	// sampled every tick while two or more had; 1 is an equal share each.
	FairnessJain float64
	JobTimes     []time.Duration
}

func (s simStats) String() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "frames %d, accepted %d, failed %d, wrong accepted %d (%.2g per frame)\n",
		s.Frames, s.Accepted, s.Failed, s.Wrong, float64(s.Wrong)/float64(max(1, s.Accepted)))
	fmt.Fprintf(&b, "volunteer renders %.1f (%.3f per accepted frame; %d of them check crops, %d of those parts of a split second render), deliveries %d, publisher crop renders %d (%.3f per accepted frame, 1/16 of a frame each)\n",
		s.Renders, s.Renders/float64(max(1, s.Accepted)), s.Checks, s.Parts, s.Deliveries, s.CropChecks, float64(s.CropChecks)/float64(max(1, s.Accepted)))
	fmt.Fprintf(&b, "CU paid %.0f, unearned %.1f (%.3f%%), strikes %d\n", s.PaidCU, s.UnearnedCU, 100*s.UnearnedCU/math.Max(1, s.PaidCU), s.Caught)
	fmt.Fprintf(&b, "makespan %v, bound %v (ratio %.3f), bound of the renders kept %v (ratio %.3f), of all renders done %v (ratio %.3f); publisher time %v (%.0f µs per accepted frame); %d events",
		s.Makespan.Round(time.Second), s.Bound.Round(time.Second), float64(s.Makespan)/float64(max(1, s.Bound)),
		s.BoundKept.Round(time.Second), float64(s.Makespan)/float64(max(1, s.BoundKept)),
		s.BoundDone.Round(time.Second), float64(s.Makespan)/float64(max(1, s.BoundDone)),
		s.PublisherTime.Round(time.Millisecond), float64(s.PublisherTime.Microseconds())/float64(max(1, s.Accepted)), s.Events)
	if s.FairnessJain > 0 {
		fmt.Fprintf(&b, "; fairness (Jain) %.3f", s.FairnessJain)
	}
	return b.String()
}

// traceTail writes to stderr, for a run with RS_SIM_TAIL set, the leases
// that rendered during its last three minutes, by when their render would
// end (a raced one's after the run): what its makespan waited for.
func (w *simWorld) traceTail() {
	end := w.clock.Now()
	var late []*simLease
	for _, l := range w.trail {
		if os.Getenv("RS_SIM_TAIL") == "all" || !l.start.Add(l.dur).Before(end.Add(-3*time.Minute)) {
			late = append(late, l)
		}
	}
	sort.Slice(late, func(a, b int) bool { return late[a].start.Add(late[a].dur).Before(late[b].start.Add(late[b].dur)) })
	for _, l := range late {
		id := l.j.id.String()
		end := "open"
		if !l.ended.IsZero() {
			end = fmt.Sprintf("%v", l.ended.Sub(w.start).Round(time.Second))
			if l.lost != "" {
				end += " lost (" + l.lost + ")"
			}
		}
		fmt.Fprintf(os.Stderr, "tail: job …%s frame %d speed %.2f crop %v backup %v from %v for %v ended %s\n", id[len(id)-6:], l.g.Task.Frame, l.v.speed,
			!l.g.Crop.Empty(), l.backup, l.start.Sub(w.start).Round(time.Second), l.dur.Round(time.Second), end)
	}
}

func (w *simWorld) doneJobs() int {
	n := 0
	for _, j := range w.jobs {
		if !j.done.IsZero() {
			n++
		}
	}
	return n
}

// sampleFairness adds Jain's index of the capacity rendering for each
// publisher that has tasks nobody has tried yet: publishers who could use
// more volunteers, and so should get equal shares when their priority is
// equal.
func (w *simWorld) sampleFairness() {
	var waiting []int
	for _, sp := range w.pubs {
		for _, j := range sp.jobs {
			if !j.done.IsZero() {
				continue
			}
			pj, _ := sp.p.job(j.id)
			pj.mu.Lock()
			queued := pj.coord.Progress().Queued
			pj.mu.Unlock()
			if queued > 0 {
				waiting = append(waiting, sp.idx)
				break
			}
		}
	}
	if len(waiting) < 2 {
		return
	}
	share := make([]float64, len(w.pubs))
	for _, v := range w.vols {
		if v.online && v.lease != nil && v.lease.state == 0 {
			share[v.lease.j.pub.idx] += v.speed
		}
	}
	var sum, sq float64
	for _, i := range waiting {
		sum += share[i]
		sq += share[i] * share[i]
	}
	if sq > 0 {
		w.fairSum += sum * sum / (float64(len(waiting)) * sq)
		w.fairN++
	}
}

// traceBusy writes to stderr, every two minutes of a run with RS_SIM_BUSY
// set, how many volunteers render and how many frames are left: where a
// run's makespan goes.
func (w *simWorld) traceBusy(now time.Time, online int) {
	busy, left := 0, 0
	for _, v := range w.vols {
		if v.online && v.lease != nil && v.lease.state == 0 {
			busy++
		}
	}
	for _, j := range w.jobs {
		if j.done.IsZero() {
			pj, _ := j.pub.p.job(j.id)
			pj.mu.Lock()
			pr := pj.coord.Progress()
			pj.mu.Unlock()
			left += pr.Total - pr.Verified - pr.Failed
		}
	}
	fmt.Fprintf(os.Stderr, "t=%v online=%d rendering=%d frames-left=%d jobs-done=%d\n", now.Sub(w.start), online, busy, left, w.doneJobs())
}

// finish collects what the run measured.
func (w *simWorld) finish() {
	s := &w.stats
	last := w.start
	for _, sp := range w.pubs {
		s.CropChecks += sp.fake.crops - len(sp.jobs) // each job's calibration render is not a check
		s.Caught += w.strikes(sp)
		paid := map[simKey]int64{}
		entries, err := sp.p.cfg.Ledger.Receipts(0)
		if err != nil {
			w.tb.Fatal(err)
		}
		for _, e := range entries {
			if e.Role == credits.RolePublisher && w.jobs[e.Task.Job] != nil {
				paid[simKey{e.Task, e.Counterpart}] += e.CU
			}
		}
		for k, cu := range paid {
			s.PaidCU += float64(cu) / 1000
			if !w.delivered[k] {
				s.UnearnedCU += float64(cu) / 1000
			}
		}
		for _, j := range sp.jobs {
			pj, _ := sp.p.job(j.id)
			pj.mu.Lock()
			for _, t := range j.m.Tasks(j.id) {
				res, _, ok := pj.coord.Accepted(t)
				if !ok {
					continue
				}
				s.Accepted++
				if res.Digest != w.truthOf(j, t) {
					s.Wrong++
				}
			}
			s.Failed += pj.coord.Progress().Failed
			pj.mu.Unlock()
			if !j.done.IsZero() {
				s.JobTimes = append(s.JobTimes, j.done.Sub(j.published))
				if j.done.After(last) {
					last = j.done
				}
			} else {
				last = w.clock.Now()
			}
		}
	}
	s.Makespan = last.Sub(w.start)
	if secs := s.Makespan.Seconds(); secs > 0 && w.busyTime > 0 {
		capacity := w.busyTime / secs // mean speed online
		s.Bound = time.Duration(float64(s.Work) / capacity)
		s.BoundDone = time.Duration(float64(s.Rendered) / capacity)
		s.BoundKept = time.Duration(float64(s.Kept) / capacity)
	}
	var longest time.Duration
	for _, j := range w.jobs {
		longest = max(longest, j.published.Sub(w.start)+j.cost) // a frame on a speed-1 machine
	}
	s.Bound = max(s.Bound, longest)
	s.BoundDone = max(s.BoundDone, longest)
	s.BoundKept = max(s.BoundKept, longest)
	if w.fairN > 0 {
		s.FairnessJain = w.fairSum / float64(w.fairN)
	}
	slices.Sort(s.JobTimes)
}
