package work

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/p2p"
)

// Server is the publisher's side of the protocol. from is the
// authenticated peer that sent the request; a returned error is sent back
// as a refusal.
type Server interface {
	Lease(ctx context.Context, from peer.ID, jobID cid.Cid, renderers map[string]string) (LeaseAnswer, error)
	// Backup is Lease for a volunteer no job had work for: it may get a
	// backup replica of a straggler's task.
	Backup(ctx context.Context, from peer.ID, jobID cid.Cid, renderers map[string]string) (LeaseAnswer, error)
	Renew(ctx context.Context, from peer.ID, ref Ref, progress float64) (time.Time, error)
	// Commit and Await answer whether the lease's result should be
	// delivered now.
	Commit(ctx context.Context, from peer.ID, ref Ref, c job.Commitment) (reveal bool, err error)
	Await(ctx context.Context, from peer.ID, ref Ref) (reveal bool, err error)
	// Deliver checks a delivery before it opens its body, and reads at
	// most as much of it as the lease's result can be.
	Deliver(ctx context.Context, from peer.ID, d Delivery, body Body) error
	Fail(ctx context.Context, from peer.ID, ref Ref, reason string) error
	Release(ctx context.Context, from peer.ID, ref Ref) error
	// Receipts returns the receipts issued to from and not countersigned
	// yet; at most MaxReceiptsPerAnswer are sent.
	Receipts(ctx context.Context, from peer.ID) ([]credits.SignedReceipt, error)
	// Countersign records receipts from countersigned (at most
	// MaxReceiptsPerAnswer); an error names the first it could not.
	Countersign(ctx context.Context, from peer.ID, rs ...credits.SignedReceipt) error
}

// errUnexpectedBody refuses a body sent with an operation that has none.
var errUnexpectedBody = errors.New("work request: unexpected body")

// Handler is the stream handler serving s.
func Handler(s Server) p2p.BodyHandler {
	return func(ctx context.Context, from peer.ID, header []byte, body *p2p.Body) ([]byte, error) {
		return Serve(ctx, s, from, header, body)
	}
}

// Serve decodes and checks one request from a peer, calls s with typed
// values and encodes the answer.
func Serve(ctx context.Context, s Server, from peer.ID, header []byte, body Body) ([]byte, error) {
	req, err := DecodeRequest(header)
	if err != nil {
		return nil, err
	}
	if req.Op != OpDeliver && body.Size() != 0 {
		return nil, errUnexpectedBody
	}
	resp, err := serve(ctx, s, from, req, body)
	if err != nil {
		return nil, err
	}
	return Encode(resp)
}

func serve(ctx context.Context, s Server, from peer.ID, req Request, body Body) (Response, error) {
	var ref Ref
	if req.Job != "" {
		id, err := job.ParseID(req.Job) // checked by DecodeRequest
		if err != nil {
			return Response{}, err
		}
		ref = Ref{Job: id, Lease: req.Lease}
	}
	switch req.Op {
	case OpLease:
		lease := s.Lease
		if req.Backup {
			lease = s.Backup
		}
		a, err := lease(WithSpeed(ctx, req.Speed), from, ref.Job, req.Renderers)
		if err != nil {
			return Response{}, err
		}
		if a.Grant == nil {
			return Response{Retry: int64(max(a.Retry.Round(time.Second), time.Second) / time.Second)}, nil
		}
		g := a.Grant
		lg := &LeaseGrant{Lease: g.Lease, Task: g.Task, Salt: g.Salt, Expires: g.Expires.Unix(), Manifest: g.Signed, Slots: min(g.Slots, maxSlots)}
		if c := g.Crop; !c.Empty() {
			lg.Crop = &[4]int{c.Min.X, c.Min.Y, c.Max.X, c.Max.Y}
		}
		return Response{Grant: lg}, nil
	case OpRenew:
		exp, err := s.Renew(ctx, from, ref, req.Progress)
		return Response{Expires: exp.Unix()}, err
	case OpCommit:
		reveal, err := s.Commit(ctx, from, ref, *req.Commit)
		return Response{Reveal: reveal}, err
	case OpAwait:
		reveal, err := s.Await(ctx, from, ref)
		return Response{Reveal: reveal}, err
	case OpDeliver:
		d := Delivery{Ref: ref, CU: req.CU}
		if req.Commit == nil {
			return Response{}, s.Deliver(ctx, from, d, body)
		}
		// Commit, then the delivery only if the result may be revealed
		// now: otherwise the body is not asked for, and stays with the
		// volunteer until Await says to deliver.
		reveal, err := s.Commit(ctx, from, ref, *req.Commit)
		if err != nil || !reveal {
			return Response{}, err
		}
		return Response{Reveal: true}, s.Deliver(ctx, from, d, body)
	case OpFail:
		return Response{}, s.Fail(ctx, from, ref, req.Reason)
	case OpRelease:
		return Response{}, s.Release(ctx, from, ref)
	case OpReceipts:
		list, err := s.Receipts(ctx, from)
		if err != nil {
			return Response{}, err
		}
		var resp Response
		for _, r := range list[:min(len(list), MaxReceiptsPerAnswer)] {
			b, err := r.Marshal()
			if err != nil {
				return Response{}, err
			}
			resp.Receipts = append(resp.Receipts, json.RawMessage(b))
		}
		return resp, nil
	case OpCountersign:
		var srs []credits.SignedReceipt
		for _, b := range append(req.Receipts, req.Receipt) {
			if len(b) == 0 {
				continue
			}
			sr, err := credits.OpenReturned(b) // the ledger checks what it issued
			if err != nil {
				return Response{}, err
			}
			srs = append(srs, sr)
		}
		return Response{}, s.Countersign(ctx, from, srs...)
	}
	return Response{}, fmt.Errorf("operation %q not served", req.Op)
}

type speedKey struct{}

// WithSpeed returns ctx carrying the speed a volunteer asking for a lease
// says it has (Request.Speed; 0: not said), for the Server's Lease and
// Backup to read with SpeedOf.
func WithSpeed(ctx context.Context, speed float64) context.Context {
	if speed <= 0 {
		return ctx
	}
	return context.WithValue(ctx, speedKey{}, speed)
}

// SpeedOf is the speed WithSpeed put in ctx, or 0.
func SpeedOf(ctx context.Context) float64 {
	s, _ := ctx.Value(speedKey{}).(float64)
	return s
}
