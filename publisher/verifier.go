package publisher

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/job"
)

// verifyRetry is how soon a verifier tries again after a result it could
// not read or a receipt it could not issue.
const verifyRetry = 10 * time.Second

// creditEvery is how often a busy verifier issues the receipts of the
// tasks it accepted meanwhile.
const creditEvery = time.Second

// verified is what a worker reports of a task it verified.
type verified struct {
	task    job.Task
	settled bool // false: it could not be decided now; try again
}

// verifier decides a job's tasks as their results come in: at start (for
// results delivered just before a restart) and at every delivery. It
// returns when ctx ends, or when the job is done and fully credited.
func (p *Publisher) verifier(ctx context.Context, j *pubJob) {
	prof, err := credits.ProfileFor(j.m.Profile)
	if err != nil {
		p.log.Error("unknownProfile", "job", j.id, "profile", j.m.Profile)
		return // nothing will change that
	}
	retry := p.clock.NewTimer(verifyRetry)
	retry.Stop() // armed only when a task or a receipt is to be retried
	workers := verifiers(j.m)
	results := make(chan verified, workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	// held: the tasks workers verify now. parked: tasks verified since the
	// last delivery or retry that are still pending (waiting for a check,
	// or to be tried again): they are looked at again only then.
	held, parked := map[job.Task]bool{}, map[job.Task]bool{}
	unsettled, credited := false, true
	var lastCredit time.Time
	for {
		if p.calibrate(ctx, j) {
			p.reproduce(ctx, j)
			j.mu.Lock()
			pending := j.coord.Pending()
			j.mu.Unlock()
			for _, tr := range pending {
				if len(held) >= workers || ctx.Err() != nil {
					break
				}
				if held[tr.Task] || parked[tr.Task] {
					continue
				}
				held[tr.Task] = true
				wg.Go(func() { results <- verified{tr.Task, p.verifyTask(ctx, j, tr, prof)} })
			}
			// Receipts are issued in batches: when the workers are idle,
			// or every creditEvery while they are not.
			if now := p.clock.Now(); len(held) == 0 || now.Sub(lastCredit) >= creditEvery {
				credited, lastCredit = p.credit(j), now
			}
			if len(held) == 0 && !unsettled && credited && j.done() {
				return
			}
		}
		var again <-chan time.Time
		if unsettled || !credited {
			retry.Reset(verifyRetry)
			again = retry.C()
		}
		select {
		case <-ctx.Done():
			for len(held) > 0 {
				delete(held, (<-results).task)
			}
			return
		case v := <-results:
			delete(held, v.task)
			parked[v.task] = true
			unsettled = unsettled || !v.settled
			continue
		case <-j.delivered:
		case <-again:
			unsettled = false
		}
		clear(parked)
	}
}

func (j *pubJob) done() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.coord.Done()
}

// Verifying a task mostly waits: for the durable write of its decision
// (shared, through group commit, with the other tasks decided meanwhile),
// for the result's entry in the asset store, for a crop render's turn
// (cropRenders). A publisher with one verifier per core decides a few
// dozen tasks a second; several per core let the waits overlap. Each
// verifier holds a task's decoded results, so their number is bounded by
// verifyMemory as well.
const (
	maxVerifiers = 16
	verifyMemory = 256 << 20
	// decodedBytes is the memory a decoded result takes per pixel, at most
	// (RGBA, 32 bits a channel).
	decodedBytes = 16
)

// verifiers is how many tasks of a job are verified at once: one per core,
// and more when the job's tiles are small enough for verifyMemory.
func verifiers(m job.Manifest) int {
	cores := runtime.GOMAXPROCS(0)
	tile := m.TileRect(0).Size()
	perTask := max(m.Replicas, 2) * max(tile.X*tile.Y, 1) * decodedBytes
	return max(cores, min(maxVerifiers, verifyMemory/perTask))
}
