package work

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/p2p"
)

// Caller sends one request, and a body if the peer asks for it, and
// returns the peer's answer; an answered error is a *p2p.RemoteError.
// *p2p.Node is one.
type Caller interface {
	CallBody(ctx context.Context, p peer.ID, proto protocol.ID, header []byte, body io.Reader, size int64) ([]byte, error)
}

// Client speaks the work protocol to publishers. Its methods are safe for
// concurrent use.
type Client struct {
	net   Caller
	speed float64 // sent with lease requests (SetSpeed)

	mu     sync.Mutex
	opened map[string]openedManifest // by the signed manifest's exact bytes
}

// openedManifest is a signed manifest OpenManifest accepted.
type openedManifest struct {
	m  job.Manifest
	sm job.SignedManifest
}

// maxOpened bounds the signed manifests a client remembers having
// verified: every grant carries its job's, and a volunteer works on a few
// jobs at a time.
const maxOpened = 16

// NewClient returns a client sending through net.
func NewClient(net Caller) *Client { return &Client{net: net, opened: map[string]openedManifest{}} }

// SetSpeed sets the speed relative to the reference machine that the
// client tells publishers with every lease request (this machine's, as it
// measured it for the compute units it claims): a publisher leaves the last
// tasks of a job to faster machines. Call it before the client is used.
func (c *Client) SetSpeed(speed float64) { c.speed = speed }

// openManifest is job.OpenManifest, once per distinct signed manifest:
// the same bytes verified before are the same manifest. Decoding and
// verifying it again for every lease was a tenth of a volunteer's CPU on
// small tasks.
func (c *Client) openManifest(b []byte) (job.Manifest, job.SignedManifest, error) {
	c.mu.Lock()
	o, ok := c.opened[string(b)]
	c.mu.Unlock()
	if ok {
		return o.m, o.sm, nil
	}
	m, sm, err := job.OpenManifest(b)
	if err != nil {
		return m, sm, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.opened) >= maxOpened {
		for k := range c.opened { // any one: jobs come and go
			delete(c.opened, k)
			break
		}
	}
	c.opened[string(b)] = openedManifest{m, sm}
	return m, sm, nil
}

// Refused reports whether err is a publisher's answer (it refused the
// request) rather than a failure to reach it.
func Refused(err error) bool {
	var re *p2p.RemoteError
	return errors.As(err, &re)
}

// Lease asks pub for a task of job, offering renderers (name -> exact
// version). A grant is checked before it is returned: its manifest is
// signed by pub, is the job asked for, and holds the task.
func (c *Client) Lease(ctx context.Context, pub peer.ID, jobID cid.Cid, renderers map[string]string) (LeaseAnswer, error) {
	return c.lease(ctx, pub, jobID, renderers, false)
}

// Backup asks for a lease when no job had work for this volunteer: it may
// be a backup replica of a straggler's task, which the first of the two to
// commit keeps (the other lease is withdrawn).
func (c *Client) Backup(ctx context.Context, pub peer.ID, jobID cid.Cid, renderers map[string]string) (LeaseAnswer, error) {
	return c.lease(ctx, pub, jobID, renderers, true)
}

func (c *Client) lease(ctx context.Context, pub peer.ID, jobID cid.Cid, renderers map[string]string, backup bool) (LeaseAnswer, error) {
	resp, err := c.call(ctx, pub, Request{Op: OpLease, Job: jobID.String(), Renderers: renderers, Backup: backup, Speed: c.speed})
	if err != nil {
		return LeaseAnswer{}, err
	}
	g := resp.Grant
	if g == nil {
		return LeaseAnswer{Retry: time.Duration(max(resp.Retry, 1)) * time.Second}, nil
	}
	m, sm, err := c.openManifest(g.Manifest)
	if err != nil {
		return LeaseAnswer{}, fmt.Errorf("lease from %s: %w", pub, err)
	}
	switch {
	case !sm.ID().Equals(jobID):
		return LeaseAnswer{}, fmt.Errorf("lease from %s: for job %s, not %s", pub, sm.ID(), jobID)
	case m.Publisher != pub:
		return LeaseAnswer{}, fmt.Errorf("lease from %s: job published by %s", pub, m.Publisher)
	case !m.HasTask(jobID, g.Task):
		return LeaseAnswer{}, fmt.Errorf("lease from %s: %s is not a task of job %s", pub, g.Task, jobID)
	}
	var crop image.Rectangle
	if c := g.Crop; c != nil {
		crop = image.Rect(c[0], c[1], c[2], c[3])
		if tile := m.TileRect(g.Task.Tile); c[0] >= c[2] || c[1] >= c[3] || !crop.In(tile) {
			return LeaseAnswer{}, fmt.Errorf("lease from %s: crop %v is not inside the tile %v of %s", pub, *c, tile, g.Task)
		}
	}
	return LeaseAnswer{Grant: &Grant{
		Ref:  Ref{Job: jobID, Lease: g.Lease},
		Task: g.Task, Salt: g.Salt, Expires: time.Unix(g.Expires, 0),
		Manifest: m, Signed: g.Manifest, Crop: crop, Slots: g.Slots,
	}}, nil
}

// Renew is the heartbeat on a lease, with the work's progress (0..1); it
// returns the lease's new expiry.
func (c *Client) Renew(ctx context.Context, pub peer.ID, ref Ref, progress float64) (time.Time, error) {
	resp, err := c.call(ctx, pub, Request{Op: OpRenew, Job: ref.Job.String(), Lease: ref.Lease, Progress: min(max(progress, 0), 1)})
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(resp.Expires, 0), nil
}

// Commit binds the lease to a result before anything of it is revealed.
// reveal says the task's other replicas have all committed: deliver now.
func (c *Client) Commit(ctx context.Context, pub peer.ID, ref Ref, commitment job.Commitment) (reveal bool, err error) {
	resp, err := c.call(ctx, pub, Request{Op: OpCommit, Job: ref.Job.String(), Lease: ref.Lease, Commit: &commitment})
	return resp.Reveal, err
}

// Await waits, up to AwaitLimit, until every replica of the lease's task
// has committed (or lost its lease); reveal says deliver now.
func (c *Client) Await(ctx context.Context, pub peer.ID, ref Ref) (reveal bool, err error) {
	resp, err := c.call(ctx, pub, Request{Op: OpAwait, Job: ref.Job.String(), Lease: ref.Lease})
	return resp.Reveal, err
}

// Deliver reveals a committed result: its PNG, of size bytes, goes to the
// publisher only if it accepts the delivery.
func (c *Client) Deliver(ctx context.Context, pub peer.ID, d Delivery, png io.Reader, size int64) error {
	_, err := c.send(ctx, pub, Request{Op: OpDeliver, Job: d.Job.String(), Lease: d.Lease, CU: max(d.CU, 0)}, png, size)
	return err
}

// CommitDeliver is Commit and Deliver in one exchange: the publisher
// records the commitment and, only if the result may be revealed at once,
// asks for the PNG and takes the delivery (delivered). Otherwise nothing of
// the PNG crosses the network: the caller awaits (Await) and delivers.
// Sending it again after an error is safe: the same commitment again is
// harmless.
func (c *Client) CommitDeliver(ctx context.Context, pub peer.ID, d Delivery, commitment job.Commitment, png io.Reader, size int64) (delivered bool, err error) {
	resp, err := c.send(ctx, pub, Request{Op: OpDeliver, Job: d.Job.String(), Lease: d.Lease, CU: max(d.CU, 0), Commit: &commitment}, png, size)
	return resp.Reveal, err
}

// Fail hands a lease back because its render failed; reason is the
// renderer's last words.
func (c *Client) Fail(ctx context.Context, pub peer.ID, ref Ref, reason string) error {
	_, err := c.call(ctx, pub, Request{Op: OpFail, Job: ref.Job.String(), Lease: ref.Lease, Reason: truncate(reason, maxReason)})
	return err
}

// Release hands a lease back because the volunteer stops working on it
// (its user paused it, or it shuts down).
func (c *Client) Release(ctx context.Context, pub peer.ID, ref Ref) error {
	_, err := c.call(ctx, pub, Request{Op: OpRelease, Job: ref.Job.String(), Lease: ref.Lease})
	return err
}

// Receipts fetches the receipts pub issued to this node and it has not
// countersigned yet, each verified and checked to come from pub.
func (c *Client) Receipts(ctx context.Context, pub peer.ID) ([]credits.SignedReceipt, error) {
	resp, err := c.call(ctx, pub, Request{Op: OpReceipts})
	if err != nil {
		return nil, err
	}
	out := make([]credits.SignedReceipt, 0, len(resp.Receipts))
	for _, raw := range resp.Receipts {
		r, sr, err := credits.OpenReceipt(raw)
		if err != nil {
			return out, fmt.Errorf("receipt from %s: %w", pub, err)
		}
		if r.Publisher != pub {
			return out, fmt.Errorf("receipt from %s names publisher %s", pub, r.Publisher)
		}
		out = append(out, sr)
	}
	return out, nil
}

// Countersign returns countersigned receipts to their publisher, at most
// MaxReceiptsPerAnswer in one request. A refusal names the first receipt
// not recorded; the publisher keeps the others it could not record pending.
func (c *Client) Countersign(ctx context.Context, pub peer.ID, srs ...credits.SignedReceipt) error {
	if len(srs) == 0 || len(srs) > MaxReceiptsPerAnswer {
		return fmt.Errorf("countersigning %d receipts: 1 to %d at once", len(srs), MaxReceiptsPerAnswer)
	}
	req := Request{Op: OpCountersign}
	for _, sr := range srs {
		b, err := sr.Marshal()
		if err != nil {
			return err
		}
		req.Receipts = append(req.Receipts, b)
	}
	if len(req.Receipts) == 1 {
		req.Receipt, req.Receipts = req.Receipts[0], nil
	}
	_, err := c.call(ctx, pub, req)
	return err
}

func (c *Client) call(ctx context.Context, pub peer.ID, req Request) (Response, error) {
	return c.send(ctx, pub, req, bytes.NewReader(nil), 0)
}

func (c *Client) send(ctx context.Context, pub peer.ID, req Request, body io.Reader, size int64) (Response, error) {
	b, err := Encode(req)
	if err != nil {
		return Response{}, err
	}
	resp, err := c.net.CallBody(ctx, pub, Protocol, b, body, size)
	if err != nil {
		return Response{}, err
	}
	return decodeResponse(resp, nil) // a grant's manifest: opened by lease, once
}

// maxReason bounds a failure reason on the wire.
const maxReason = 4096

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
