package adversary

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/render/builtin"
	"github.com/renderswarm/renderswarm/work"
)

// HostilePublisher is a fake publisher served from an adversary peer,
// built on work.Handler: it announces a signed job whose scene asset
// nobody seeds, grants a lease to every volunteer that asks, and answers
// every renewal, so a volunteer that trusts it fetches the scene forever.
// It records what the volunteers asked.
type HostilePublisher struct {
	p      *Peer
	id     cid.Cid
	m      job.Manifest
	signed []byte

	mu      sync.Mutex
	calls   HostileCalls
	changed chan struct{} // closed and replaced at every call
}

// HostileCalls counts what volunteers asked a HostilePublisher.
type HostileCalls struct {
	Leases, Renewals, Commits, Deliveries, Fails, Releases int
	FirstLease                                             time.Time // zero before the first
	LastReason                                             string    // of the latest Fail
}

var _ work.Server = (*HostilePublisher)(nil)

// ServeHostileJob makes the peer a hostile publisher of a job of frames
// (a frame spec) whose scene nobody has, and serves the work protocol.
func (p *Peer) ServeHostileJob(frames string) (*HostilePublisher, error) {
	var ih [20]byte
	rand.Read(ih[:])
	spec, err := job.ParseFrameSpec(frames)
	if err != nil {
		return nil, err
	}
	m := job.Manifest{
		Version: job.FormatVersion, Publisher: p.id, Created: time.Now().Unix(), Title: "free credits",
		Renderer: job.Renderer{Name: builtin.Name, Version: p.version},
		Scene:    job.Scene{Asset: job.AssetCID(ih), Main: "scene.scene"},
		Frames:   spec, Width: 32, Height: 18, Samples: 1, Output: job.OutputPNG,
		Profile: job.DefaultProfile(builtin.Name), Replicas: 2,
		Limits: job.Limits{MaxSecondsPerFrame: 600, MaxMemoryMiB: 1024},
	}
	sm, err := m.Sign(p.key)
	if err != nil {
		return nil, err
	}
	signed, err := sm.Marshal()
	if err != nil {
		return nil, err
	}
	h := &HostilePublisher{p: p, id: sm.ID(), m: m, signed: signed, changed: make(chan struct{})}
	p.net.HandleBodyRPC(work.Protocol, work.Handler(h))
	return h, nil
}

// Job is the hostile job's ID.
func (h *HostilePublisher) Job() cid.Cid { return h.id }

// Announce gossips the job, as a publisher does every work.AnnounceEvery.
func (h *HostilePublisher) Announce(ctx context.Context) error {
	data, err := work.Encode(work.Announcement{Manifest: h.signed, State: "running",
		TasksLeft: h.m.TaskCount(), Seq: time.Now().UnixMicro()})
	if err != nil {
		return err
	}
	return h.p.net.Publish(ctx, work.JobsTopic, data)
}

// Calls reports what volunteers asked so far.
func (h *HostilePublisher) Calls() HostileCalls {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls
}

// Wait returns the calls as soon as cond holds for them, or when ctx
// ends (ok false).
func (h *HostilePublisher) Wait(ctx context.Context, cond func(HostileCalls) bool) (calls HostileCalls, ok bool) {
	for {
		h.mu.Lock()
		calls, changed := h.calls, h.changed
		h.mu.Unlock()
		if cond(calls) {
			return calls, true
		}
		select {
		case <-ctx.Done():
			return calls, false
		case <-changed:
		}
	}
}

func (h *HostilePublisher) record(f func(*HostileCalls)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(&h.calls)
	close(h.changed)
	h.changed = make(chan struct{})
}

// Backup answers like Lease.
func (h *HostilePublisher) Backup(ctx context.Context, from peer.ID, id cid.Cid, renderers map[string]string) (work.LeaseAnswer, error) {
	return h.Lease(ctx, from, id, renderers)
}

// Lease grants the first task to anyone, every time.
func (h *HostilePublisher) Lease(_ context.Context, from peer.ID, id cid.Cid, _ map[string]string) (work.LeaseAnswer, error) {
	if !id.Equals(h.id) {
		return work.LeaseAnswer{Retry: work.RetryDone}, nil
	}
	salt, err := job.NewSalt(rand.Reader)
	if err != nil {
		return work.LeaseAnswer{}, err
	}
	var lease [8]byte
	rand.Read(lease[:])
	h.record(func(c *HostileCalls) {
		c.Leases++
		if c.FirstLease.IsZero() {
			c.FirstLease = time.Now()
		}
	})
	return work.LeaseAnswer{Grant: &work.Grant{
		Ref:  work.Ref{Job: h.id, Lease: hex.EncodeToString(lease[:])},
		Task: h.m.Tasks(h.id)[0], Salt: salt, Expires: time.Now().Add(work.LeaseTTL),
		Manifest: h.m, Signed: h.signed,
	}}, nil
}

// Renew always extends the lease: the volunteer is "still fetching".
func (h *HostilePublisher) Renew(context.Context, peer.ID, work.Ref, float64) (time.Time, error) {
	h.record(func(c *HostileCalls) { c.Renewals++ })
	return time.Now().Add(work.LeaseTTL), nil
}

func (h *HostilePublisher) Commit(context.Context, peer.ID, work.Ref, job.Commitment) (bool, error) {
	h.record(func(c *HostileCalls) { c.Commits++ })
	return false, nil
}

// Await never lets a result go: the volunteer waits.
func (h *HostilePublisher) Await(ctx context.Context, _ peer.ID, _ work.Ref) (bool, error) {
	select {
	case <-ctx.Done():
	case <-time.After(work.AwaitLimit):
	}
	return false, nil
}

func (h *HostilePublisher) Deliver(context.Context, peer.ID, work.Delivery, work.Body) error {
	h.record(func(c *HostileCalls) { c.Deliveries++ })
	return nil
}

func (h *HostilePublisher) Fail(_ context.Context, _ peer.ID, _ work.Ref, reason string) error {
	h.record(func(c *HostileCalls) { c.Fails++; c.LastReason = reason })
	return nil
}

func (h *HostilePublisher) Release(context.Context, peer.ID, work.Ref) error {
	h.record(func(c *HostileCalls) { c.Releases++ })
	return nil
}

func (h *HostilePublisher) Receipts(context.Context, peer.ID) ([]credits.SignedReceipt, error) {
	return nil, nil
}

func (h *HostilePublisher) Countersign(context.Context, peer.ID, ...credits.SignedReceipt) error {
	return nil
}

// Flood announces n jobs of its own (the hostile job under other titles),
// each once, as fast as the topic takes them: a publisher trying to fill
// volunteers' offer books and drown other publishers' jobs.
func (h *HostilePublisher) Flood(ctx context.Context, n int) error {
	for i := range n {
		m := h.m
		m.Title = fmt.Sprint("free credits ", i)
		sm, err := m.Sign(h.p.key)
		if err != nil {
			return err
		}
		signed, err := sm.Marshal()
		if err != nil {
			return err
		}
		data, err := work.Encode(work.Announcement{Manifest: signed, State: "running",
			TasksLeft: m.TaskCount(), Seq: time.Now().UnixMicro()})
		if err != nil {
			return err
		}
		if err := h.p.net.Publish(ctx, work.JobsTopic, data); err != nil {
			return err
		}
	}
	return nil
}
