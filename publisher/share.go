package publisher

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/job"
)

// Sharing accepted results, off the verification path.
//
// A task's decision is persisted first; the sharer then adds its accepted
// result to the asset store in the background, one result at a time (the
// store commits its adds one by one, each with a durable write, so a
// verifier that waited for its own would hold the next decisions back).
// Until it is shared, the result stays in its lease's directory, where
// Fetch reads it. A result whose sharing a crash cut short is found at the
// next start (shareLeftovers) and shared then.

// shareItem is an accepted result to add to the asset store.
type shareItem struct {
	j     *pubJob
	lease string
	task  job.Task
	cid   cid.Cid
}

// file is the result's PNG in its lease's directory.
func (it shareItem) file(p *Publisher) string {
	return filepath.Join(p.leaseDir(it.j, it.lease), resultName(it.task))
}

// shareRetry is how soon the sharer tries again a result it could not add.
const shareRetry = 10 * time.Second

type sharer struct {
	// reading is held by whoever reads results (Fetch, FrameImage) while
	// it does, and by the sharer while it removes a shared result's lease
	// directory: a result read where it waited does not vanish mid-read.
	reading sync.RWMutex

	mu      sync.Mutex
	queue   []shareItem
	waiting map[cid.Cid]string // result CID → its PNG, until shared
	wake    chan struct{}
}

func newSharer() *sharer {
	return &sharer{waiting: map[cid.Cid]string{}, wake: make(chan struct{}, 1)}
}

// expectShare makes a result about to be accepted readable where it
// waits (unshared) before its decision is visible to Fetch.
func (p *Publisher) expectShare(it shareItem) {
	s := p.shares
	s.mu.Lock()
	s.waiting[it.cid] = it.file(p)
	s.mu.Unlock()
}

// queueShare queues an accepted result for sharing.
func (p *Publisher) queueShare(it shareItem) {
	s := p.shares
	s.mu.Lock()
	s.queue = append(s.queue, it)
	s.waiting[it.cid] = it.file(p)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// unshared returns the PNG of an accepted result not shared yet.
func (p *Publisher) unshared(result cid.Cid) (string, bool) {
	s := p.shares
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.waiting[result]
	return f, ok
}

// shareQueued shares the queued results until ctx ends; what it could not
// share it tries again after shareRetry.
func (p *Publisher) shareQueued(ctx context.Context) {
	s := p.shares
	retry := p.clock.NewTimer(shareRetry)
	retry.Stop() // armed only when a result is to be tried again
	defer retry.Stop()
	var again <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-again:
			again = nil
		}
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		var failed []shareItem
		for i, it := range batch {
			if ctx.Err() != nil {
				failed = append(failed, batch[i:]...)
				break
			}
			if err := p.share(ctx, it.j, it.lease, it.task, it.cid); err != nil {
				p.log.Warn("resultNotShared", "task", it.task.String(), "err", err)
				failed = append(failed, it)
				continue
			}
			s.reading.Lock()
			s.mu.Lock()
			if s.waiting[it.cid] == it.file(p) {
				delete(s.waiting, it.cid)
			}
			s.mu.Unlock()
			p.forget(it.j, it.task, it.lease)
			s.reading.Unlock()
		}
		if len(failed) > 0 {
			s.mu.Lock()
			s.queue = append(failed, s.queue...)
			s.mu.Unlock()
			if ctx.Err() != nil {
				return
			}
			retry.Reset(shareRetry)
			again = retry.C()
		}
	}
}

// shareLeftovers queues, for a restored job, the accepted results still in
// their leases' directories: the sharer had not added them when the node
// stopped. A directory holding a result of an accepted task that is not
// the accepted one (a crash came before it was removed) is removed; one
// of a task not decided yet waits for its decision.
func (p *Publisher) shareLeftovers(j *pubJob) error {
	dir := filepath.Join(p.cfg.ResultsDir, j.id.String())
	leases, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing the results of %s: %w", j.id, err)
	}
	for _, l := range leases {
		if !l.IsDir() {
			continue
		}
		t, ok := leftoverTask(j, filepath.Join(dir, l.Name()))
		if !ok {
			continue
		}
		res, _, accepted := j.coord.Accepted(t)
		if !accepted {
			continue
		}
		c, err := p.leftoverCID(j, filepath.Join(dir, l.Name()), t)
		switch {
		case err != nil:
			p.log.Warn("leftoverResultUnreadable", "task", t.String(), "err", err) // kept
		case c.Equals(res.CID):
			p.queueShare(shareItem{j: j, lease: l.Name(), task: t, cid: c})
		default:
			p.forget(j, t, l.Name())
		}
	}
	return nil
}

// leftoverTask reads which task a lease's directory holds a result of,
// from its PNG's name.
func leftoverTask(j *pubJob, dir string) (job.Task, bool) {
	files, err := os.ReadDir(dir)
	if err != nil {
		return job.Task{}, false
	}
	for _, f := range files {
		t := job.Task{Job: j.id}
		if _, err := fmt.Sscanf(f.Name(), "frame_%04d_tile%02d.png", &t.Frame, &t.Tile); err == nil && resultName(t) == f.Name() {
			return t, true
		}
	}
	return job.Task{}, false
}

// leftoverCID is the CID a leftover result was delivered as: its PNG
// alone, or its lease's folder for a job with extras (resultAssetPath).
func (p *Publisher) leftoverCID(j *pubJob, dir string, t job.Task) (cid.Cid, error) {
	name := resultName(t)
	if len(j.m.Extras()) > 0 {
		name = filepath.Base(dir)
	}
	return p.cfg.Assets.Identify(dir, name)
}
