package publisher

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"image"
	"math/big"
	"os"
	"time"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/scheduler"
)

// Verification of a job, from delivered results to receipts (DESIGN.md
// §5, §6), in the order it happens:
//
//  1. Deliver (server.go) fetched each result, decoded it at its task's
//     size and let the coordinator check the publisher's own pixel digest
//     against the volunteer's commitment, then woke the job's verifier.
//  2. The verifier takes every task whose wanted replicas are all in
//     (Coordinator.Pending), compares the images under the job's profile
//     and applies the quorum rule (credits.DecideImages).
//  3. An accepted result is crop-checked: the publisher renders a random
//     crop, chosen only now, itself; a mismatch refutes the agreeing
//     results.
//  4. The decision is applied (Coordinator.Resolve) and persisted; the
//     claims of accepted results are priced against the job's costs.
//  5. Every accepted, uncredited task gets a receipt per agreeing peer.
//
// There is one verifier per job, so each task is decided exactly once.

// verifyRetry is how soon a verifier tries again after a result it could
// not read or a receipt it could not issue.
const verifyRetry = 10 * time.Second

// verifier decides a job's tasks as their results come in: at start (for
// results delivered just before a restart) and at every delivery. It
// returns when ctx ends, or when the job is done and fully credited.
func (p *Publisher) verifier(ctx context.Context, j *pubJob) {
	retry := p.clock.NewTimer(verifyRetry)
	retry.Stop() // armed only when a pass leaves work to retry
	for {
		settled := p.verifyPending(ctx, j)
		credited := p.credit(j)
		if settled && credited && j.done() {
			return
		}
		var again <-chan time.Time
		if !settled || !credited {
			retry.Reset(verifyRetry)
			again = retry.C()
		}
		select {
		case <-ctx.Done():
			return
		case <-j.delivered:
		case <-again:
		}
	}
}

func (j *pubJob) done() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.coord.Done()
}

// verifyPending decides every task whose replicas are all in. It reports
// false when some task could not be decided now and should be tried again.
func (p *Publisher) verifyPending(ctx context.Context, j *pubJob) (settled bool) {
	prof, err := credits.ProfileFor(j.m.Profile)
	if err != nil {
		p.log.Error("unknownProfile", "job", j.id, "profile", j.m.Profile)
		return true // nothing will change that
	}
	j.mu.Lock()
	pending := j.coord.Pending()
	j.mu.Unlock()
	settled = true
	for _, tr := range pending {
		if ctx.Err() != nil {
			return false
		}
		d, err := p.decide(ctx, j, tr, prof)
		if err != nil {
			p.log.Warn("verifyFailed", "task", tr.Task.String(), "err", err)
			settled = false
			continue
		}
		if d.Verdict == job.Waiting {
			continue
		}
		if err := p.resolve(j, tr, d); err != nil {
			p.log.Warn("resolveFailed", "task", tr.Task.String(), "err", err)
			settled = false
			continue
		}
		p.log.Info("taskDecided", "task", tr.Task.String(), "verdict", d.Verdict.String(), "results", len(tr.Results))
	}
	return settled
}

// decide compares a task's results and, for an accepted one, crop-checks
// it.
func (p *Publisher) decide(ctx context.Context, j *pubJob, tr scheduler.TaskResults, prof credits.Profile) (job.Decision, error) {
	imgs := make([]image.Image, len(tr.Results))
	for i, d := range tr.Results {
		img, err := p.resultImage(j, tr.Task, d.Result.CID)
		if err != nil {
			return job.Decision{}, fmt.Errorf("result %s unreadable: %w", d.Result.CID, err)
		}
		imgs[i] = img
	}
	d, _, err := credits.DecideImages(prof, imgs, tr.Quorum, tr.MaxResults)
	if err != nil || d.Verdict != job.Accept {
		return d, err
	}
	if err := p.cropCheck(ctx, j, tr, imgs[d.Canonical], d.Agreeing, prof); err != nil {
		p.log.Warn("resultsRefuted", "task", tr.Task.String(), "err", err)
		return job.Decision{Verdict: job.Refute, Canonical: -1, Agreeing: d.Agreeing}, nil
	}
	return d, nil
}

// resolve applies a decision and prices the accepted results' claims.
func (p *Publisher) resolve(j *pubJob, tr scheduler.TaskResults, d job.Decision) error {
	return p.update(j, func() error {
		if err := j.coord.Resolve(tr.Task, d); err != nil {
			return err
		}
		if d.Verdict == job.Accept {
			for _, i := range d.Agreeing {
				j.costs.Pay(j.claims[tr.Results[i].Lease])
			}
		}
		return nil
	})
}

// cropShare is the share of accepted results from established volunteers
// that the publisher re-checks; results from new volunteers are always
// checked (DESIGN.md §5).
const cropShare = 0.03

// errRefuted means the publisher's own render of a crop disproved an
// accepted result.
var errRefuted = fmt.Errorf("crop check: %w", credits.ErrMismatch)

// cropCheck re-renders a random crop (1/16 of the task's area) of the
// accepted result with the publisher's own renderer and compares it with
// the same pixels of the result under the job's profile. The crop is chosen
// only now, after every replica committed and delivered, so colluding
// volunteers cannot know which pixels will be checked. It returns
// errRefuted on a mismatch, and nil when the crop matches or no check was
// due or possible (the publisher lacks the exact renderer, or it cannot
// render borders).
func (p *Publisher) cropCheck(ctx context.Context, j *pubJob, tr scheduler.TaskResults, canonical image.Image, agreeing []int, prof credits.Profile) error {
	due := false
	for _, a := range agreeing {
		if p.standing.of(tr.Results[a].Peer).New() {
			due = true
		}
	}
	if !due && !chance(cropShare) {
		return nil
	}
	m := j.m
	b, ok := p.cfg.Backends[m.Renderer.Name]
	info := p.cfg.Infos[m.Renderer.Name]
	if !ok || info.Version != m.Renderer.Version || !info.Capabilities.Border {
		return nil
	}
	sceneDir, err := p.cfg.Assets.Path(m.Scene.Asset)
	if err != nil {
		return nil
	}
	tile := m.TileRect(tr.Task.Tile)
	w, h := max(1, tile.Dx()/4), max(1, tile.Dy()/4)
	x0 := tile.Min.X + between(tile.Dx()-w)
	y0 := tile.Min.Y + between(tile.Dy()-h)
	crop := image.Rect(x0, y0, x0+w, y0+h)

	out, err := os.MkdirTemp(p.cfg.WorkDir, "crop-")
	if err != nil {
		return nil
	}
	defer os.RemoveAll(out)
	t := render.TaskFor(m, tr.Task, sceneDir, out, 0)
	t.Border = &render.Rect{X0: crop.Min.X, Y0: crop.Min.Y, X1: crop.Max.X, Y1: crop.Max.Y}
	res, err := b.Render(ctx, t, nil)
	if err != nil {
		p.log.Warn("cropCheckNotRendered", "task", tr.Task.String(), "err", err)
		return nil
	}
	data, err := os.ReadFile(res.Path)
	if err != nil {
		return nil
	}
	mine, err := credits.Decode(data, crop.Size())
	if err != nil {
		return nil
	}
	// The result covers the tile; its pixel (0,0) is the tile's top left.
	theirs := credits.NRGBA(canonical).SubImage(crop.Sub(tile.Min))
	c, err := credits.Compare(prof, mine, theirs)
	if err != nil {
		return nil
	}
	p.log.Info("cropChecked", "task", tr.Task.String(), "crop", crop.String(), "match", c.Match)
	if !c.Match {
		return fmt.Errorf("%w: %s", errRefuted, c.Reason)
	}
	return nil
}

// credit issues a receipt to every peer whose result agreed with an
// accepted one and marks the task credited. The ledger refuses a second
// receipt for the same task and volunteer, so after a crash between the two
// steps crediting again issues nothing twice. It reports false when some
// receipt could not be issued (to be tried again).
func (p *Publisher) credit(j *pubJob) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	changed, ok := false, true
	for _, t := range j.coord.Uncredited() {
		res, peers, accepted := j.coord.Accepted(t)
		if !accepted {
			continue
		}
		// A frame is worth the same whoever rendered it: the median of
		// what this job's accepted results claimed (DESIGN.md §6).
		cu := j.costs.Median()
		failed := false
		for _, v := range peers {
			if v == p.self {
				continue
			}
			_, err := p.cfg.Ledger.Issue(p.clock.Now(), p.cfg.Key, v, t, res.CID, cu)
			if err != nil && !errors.Is(err, credits.ErrAlreadyIssued) {
				p.log.Error("receiptNotIssued", "task", t.String(), "peer", v, "err", err)
				failed = true
			}
		}
		if failed {
			ok = false
			continue
		}
		j.coord.MarkCredited(t)
		changed = true
	}
	if changed {
		if err := p.save(j); err != nil {
			p.log.Error("jobNotSaved", "job", j.id, "err", err)
		}
	}
	return ok
}

// chance reports true with probability p.
func chance(p float64) bool {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	return err == nil && float64(n.Int64()) < p*1_000_000
}

// between returns a uniform integer in [0, n].
func between(n int) int {
	if n <= 0 {
		return 0
	}
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)+1))
	if err != nil {
		return 0
	}
	return int(v.Int64())
}
