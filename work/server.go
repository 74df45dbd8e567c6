package work

import (
	"context"
	"encoding/json"
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
	Renew(ctx context.Context, from peer.ID, ref Ref, progress float64) (time.Time, error)
	Commit(ctx context.Context, from peer.ID, ref Ref, c job.Commitment) error
	Deliver(ctx context.Context, from peer.ID, d Delivery) error
	Fail(ctx context.Context, from peer.ID, ref Ref, reason string) error
	Release(ctx context.Context, from peer.ID, ref Ref) error
	// Receipts returns the receipts issued to from and not countersigned
	// yet; at most MaxReceiptsPerAnswer are sent.
	Receipts(ctx context.Context, from peer.ID) ([]credits.SignedReceipt, error)
	Countersign(ctx context.Context, from peer.ID, r credits.SignedReceipt) error
}

// Handler decodes requests, checks them, and calls s with typed values.
func Handler(s Server) p2p.Handler {
	return func(ctx context.Context, from peer.ID, data []byte) ([]byte, error) {
		req, err := DecodeRequest(data)
		if err != nil {
			return nil, err
		}
		resp, err := serve(ctx, s, from, req)
		if err != nil {
			return nil, err
		}
		return Encode(resp)
	}
}

func serve(ctx context.Context, s Server, from peer.ID, req Request) (Response, error) {
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
		a, err := s.Lease(ctx, from, ref.Job, req.Renderers)
		if err != nil {
			return Response{}, err
		}
		if a.Grant == nil {
			return Response{Retry: int64(max(a.Retry.Round(time.Second), time.Second) / time.Second)}, nil
		}
		g := a.Grant
		return Response{Grant: &LeaseGrant{Lease: g.Lease, Task: g.Task, Salt: g.Salt, Expires: g.Expires.Unix(), Manifest: g.Signed}}, nil
	case OpRenew:
		exp, err := s.Renew(ctx, from, ref, req.Progress)
		return Response{Expires: exp.Unix()}, err
	case OpCommit:
		return Response{}, s.Commit(ctx, from, ref, *req.Commit)
	case OpDeliver:
		result, _, err := job.ParseAssetCID(req.Result) // checked by DecodeRequest
		if err != nil {
			return Response{}, err
		}
		return Response{}, s.Deliver(ctx, from, Delivery{Ref: ref, Result: result, CU: req.CU})
	case OpFail:
		if req.Reason == ReasonStopped {
			return Response{}, s.Release(ctx, from, ref)
		}
		return Response{}, s.Fail(ctx, from, ref, req.Reason)
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
		_, sr, err := credits.OpenReceipt(req.Receipt)
		if err != nil {
			return Response{}, err
		}
		return Response{}, s.Countersign(ctx, from, sr)
	}
	return Response{}, fmt.Errorf("operation %q not served", req.Op)
}
