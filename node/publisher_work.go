package node

import (
	"context"
	"errors"
	"fmt"
	"image"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/p2p"
	"github.com/renderswarm/renderswarm/scheduler"
)

// fetchResultTimeout bounds fetching one delivered image.
const fetchResultTimeout = 25 * time.Second

// handleWork answers one work-protocol request from a volunteer.
func (p *publisher) handleWork(ctx context.Context, from peer.ID, data []byte) ([]byte, error) {
	req, err := p2p.DecodeWorkRequest(data)
	if err != nil {
		return nil, err
	}
	var resp p2p.WorkResponse
	switch req.Op {
	case p2p.OpLease:
		resp, err = p.lease(from, req)
	case p2p.OpCommit:
		err = p.withJob(req.Job, func(j *pubJob) error { return j.coord.Commit(p.now(), req.Lease, from, *req.Commit) })
	case p2p.OpDeliver:
		err = p.deliver(ctx, from, req)
	case p2p.OpRenew:
		resp, err = p.renew(from, req)
	case p2p.OpReceipts:
		resp, err = p.pendingReceipts(from)
	case p2p.OpCountersign:
		err = p.countersigned(from, req.Receipt)
	case p2p.OpFail:
		err = p.withJob(req.Job, func(j *pubJob) error {
			p.log.Info("leaseHandedBack", "job", j.id, "peer", from, "reason", req.Reason)
			delete(j.progress, req.Lease)
			if req.Reason == reasonStopped {
				return j.coord.Release(p.now(), req.Lease, from)
			}
			task, ok := j.coord.LeaseTask(req.Lease)
			if err := j.coord.Fail(p.now(), req.Lease, from); err != nil {
				return err
			}
			if ok {
				j.noteError(TaskError{Task: task, Peer: from.String(), Reason: req.Reason, At: p.now()})
			}
			return nil
		})
	default:
		err = fmt.Errorf("operation %q not served", req.Op)
	}
	if err != nil {
		return nil, err
	}
	return p2p.Encode(resp)
}

// withJob runs f on a job's coordinator and persists the result.
func (p *publisher) withJob(id string, f func(*pubJob) error) error {
	j, err := p.job(id)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := f(j); err != nil {
		return err
	}
	return p.save(j)
}

func (p *publisher) lease(from peer.ID, req p2p.WorkRequest) (p2p.WorkResponse, error) {
	j, err := p.job(req.Job)
	if err != nil {
		return p2p.WorkResponse{}, err
	}
	if from == p.self {
		return p2p.WorkResponse{}, errors.New("a node does not render its own jobs")
	}
	if v := req.Renderers[j.m.Renderer.Name]; v != j.m.Renderer.Version {
		return p2p.WorkResponse{}, fmt.Errorf("job needs %s %s", j.m.Renderer.Name, j.m.Renderer.Version)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	now := p.now()
	l, err := j.coord.Lease(now, from, p.prefix(from))
	switch {
	case errors.Is(err, scheduler.ErrJobDone):
		return p2p.WorkResponse{Retry: 60}, nil
	case errors.Is(err, scheduler.ErrNoWork), errors.Is(err, scheduler.ErrPaused):
		return p2p.WorkResponse{Retry: 2}, nil
	case errors.Is(err, scheduler.ErrBlocked):
		return p2p.WorkResponse{Retry: 600}, nil
	case err != nil:
		return p2p.WorkResponse{}, err
	}
	if err := p.save(j); err != nil {
		return p2p.WorkResponse{}, err
	}
	if j.firstLease.IsZero() {
		j.firstLease = now
	}
	j.leased++
	p.log.Info("leased", "task", l.Task.String(), "peer", from)
	return p2p.WorkResponse{Grant: &p2p.LeaseGrant{
		Lease: l.ID, Task: l.Task, Salt: l.Salt, Expires: l.Expires.Unix(), Manifest: j.signed,
	}}, nil
}

// prefix is the network prefix replicas are spread across: the /16 of a
// public IPv4 peer, the /32 of a public IPv6 one, and "" on a LAN or
// loopback, where every peer shares one.
func (p *publisher) prefix(id peer.ID) string {
	for _, c := range p.net.Host().Network().ConnsToPeer(id) {
		ip, err := manet.ToIP(c.RemoteMultiaddr())
		if err != nil || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() {
			continue
		}
		if v4 := ip.To4(); v4 != nil {
			return (&net.IPNet{IP: v4.Mask(net.CIDRMask(16, 32)), Mask: net.CIDRMask(16, 32)}).String()
		}
		return (&net.IPNet{IP: ip.Mask(net.CIDRMask(32, 128)), Mask: net.CIDRMask(32, 128)}).String()
	}
	return ""
}

// deliver fetches a delivered image, computes its pixel digest itself and
// checks it against the volunteer's commitment, then verifies the task if
// all its replicas are in.
func (p *publisher) deliver(ctx context.Context, from peer.ID, req p2p.WorkRequest) error {
	j, err := p.job(req.Job)
	if err != nil {
		return err
	}
	result, _, err := job.ParseAssetCID(req.Result)
	if err != nil {
		return err
	}
	fctx, cancel := context.WithTimeout(ctx, fetchResultTimeout)
	defer cancel()
	if _, err := p.store.Get(fctx, result, nil); err != nil {
		return fmt.Errorf("fetching result %s: %w", result, err)
	}
	task, err := j.leaseTask(req.Lease)
	if err != nil {
		return err
	}
	img, err := p.resultImage(j, task, result)
	if err != nil {
		return err
	}
	err = p.withJob(req.Job, func(j *pubJob) error {
		if err := j.coord.Deliver(p.now(), req.Lease, from, scheduler.Result{CID: result, Digest: credits.Digest(img)}); err != nil {
			return err
		}
		j.claims[req.Lease] = req.CU
		delete(j.progress, req.Lease) // rendered: the frame grid shows it verifying
		return nil
	})
	if err != nil {
		return err
	}
	go p.verify(context.WithoutCancel(ctx), j)
	return nil
}

// leaseTask finds the task a lease of the job is for.
func (j *pubJob) leaseTask(lease string) (job.Task, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	t, ok := j.coord.LeaseTask(lease)
	if !ok {
		return job.Task{}, fmt.Errorf("unknown lease %s", lease)
	}
	return t, nil
}

// resultImage decodes a fetched result at the task's size.
func (p *publisher) resultImage(j *pubJob, t job.Task, result cid.Cid) (image.Image, error) {
	path, err := p.resultFile(result)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return checkResult(data, j.m.TileRect(t.Tile).Size())
}

// checkResult is the publisher's first look at a delivered image
// (DESIGN.md §5, step 1): it must decode at exactly the expected size. A
// constant image is not refused here, since a fade to black is legitimate:
// credits.DecideImages never accepts one on a single replica.
func checkResult(png []byte, size image.Point) (image.Image, error) {
	return credits.Decode(png, size)
}

// resultFile is the one PNG inside a result asset.
func (p *publisher) resultFile(result cid.Cid) (string, error) {
	dir, err := p.store.Path(result)
	if err != nil {
		return "", err
	}
	var found []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(strings.ToLower(d.Name()), ".png") {
			found = append(found, path)
		}
		return nil
	})
	if len(found) != 1 {
		return "", fmt.Errorf("result %s holds %d PNG files, want one", result, len(found))
	}
	return found[0], nil
}

// verify decides every task whose replicas are all in.
func (p *publisher) verify(ctx context.Context, j *pubJob) {
	j.mu.Lock()
	pending := j.coord.Pending()
	j.mu.Unlock()
	prof, err := credits.ProfileFor(j.profile)
	if err != nil {
		p.log.Error("unknownProfile", "job", j.id, "profile", j.profile)
		return
	}
	for _, tr := range pending {
		imgs := make([]image.Image, len(tr.Results))
		for i, d := range tr.Results {
			img, err := p.resultImage(j, tr.Task, d.Result.CID)
			if err != nil {
				p.log.Warn("resultUnreadable", "task", tr.Task.String(), "err", err)
				return
			}
			imgs[i] = img
		}
		cd, _, err := credits.DecideImages(prof, imgs, tr.Quorum, tr.MaxResults)
		if err != nil {
			p.log.Warn("verifyFailed", "task", tr.Task.String(), "err", err)
			continue
		}
		d := scheduler.Decision{Canonical: cd.Canonical, Agreeing: cd.Agreeing, Losers: cd.Losers}
		switch cd.Outcome {
		case credits.Waiting:
			continue
		case credits.Accepted:
			d.Verdict = scheduler.Accept
			if err := p.spotCheck(ctx, j, tr, imgs[cd.Canonical], cd.Agreeing, prof); err != nil {
				p.log.Warn("resultsRefuted", "task", tr.Task.String(), "err", err)
				d = scheduler.Decision{Verdict: scheduler.Refute, Agreeing: cd.Agreeing}
			}
		case credits.NeedReplica:
			d.Verdict = scheduler.NeedReplica
		case credits.Undecided:
			d.Verdict = scheduler.GiveUp
		}
		err = p.withJob(j.id.String(), func(j *pubJob) error {
			if err := j.coord.Resolve(tr.Task, d); err != nil {
				return err
			}
			if d.Verdict == scheduler.Accept {
				for _, i := range d.Agreeing {
					j.costs.Pay(j.claims[tr.Results[i].Lease])
				}
			}
			return nil
		})
		if err != nil {
			p.log.Warn("resolveFailed", "task", tr.Task.String(), "err", err)
			continue
		}
		p.log.Info("taskDecided", "task", tr.Task.String(), "verdict", d.Verdict.String(), "results", len(tr.Results))
	}
	p.credit(j)
}
