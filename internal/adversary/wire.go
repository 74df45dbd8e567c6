package adversary

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/assets"
	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/render/builtin"
	"github.com/renderswarm/renderswarm/work"
)

// wire is every work-protocol exchange the kit makes, in one place: the
// protocol is being rebuilt, and porting the kit means porting this file.
// Today (protocol /renderswarm/work/1):
//
//	lease    Lease; a grant or how long to wait
//	renew    Renew with progress
//	commit   Commit to job.Commit(salt, pixel digest)
//	reveal   share the PNG as an asset named as an honest volunteer names
//	         it, then Deliver its CID with the claim
//	fail     Fail with a reason; release is a Fail with work.ReasonStopped
//
// Tomorrow reveal waits on the new long poll until every replica of the
// task committed and then sends the PNG's bytes on the delivery stream;
// release becomes its own op.
type wire struct {
	client  *work.Client
	store   *assets.Store
	key     crypto.PrivKey
	ledger  *credits.Ledger
	scratch string // for result files before they are shared
}

// lease asks pub for a task of jobID, offering the built-in renderer. A
// nil grant comes with how long the publisher asked to wait.
func (w wire) lease(ctx context.Context, pub peer.ID, jobID cid.Cid, version string) (*work.Grant, time.Duration, error) {
	a, err := w.client.Lease(ctx, pub, jobID, map[string]string{builtin.Name: version})
	if err != nil {
		return nil, 0, err
	}
	return a.Grant, a.Retry, nil
}

func (w wire) renew(ctx context.Context, pub peer.ID, ref work.Ref, progress float64) error {
	_, err := w.client.Renew(ctx, pub, ref, progress)
	return err
}

// commit binds the lease to the pixels of png.
func (w wire) commit(ctx context.Context, pub peer.ID, g *work.Grant, img Image) error {
	return w.client.Commit(ctx, pub, g.Ref, job.Commit(g.Salt, img.Digest))
}

// reveal hands the publisher a committed image and the claim for it.
func (w wire) reveal(ctx context.Context, pub peer.ID, g *work.Grant, img Image, claim int64) error {
	c, err := w.share(ctx, g.Task, img.PNG)
	if err != nil {
		return err
	}
	return w.deliverAsset(ctx, pub, g.Ref, c, claim)
}

// share adds png to the store as an honest volunteer names its result
// (volunteer/deliver.go): the same bytes give the same asset CID.
func (w wire) share(ctx context.Context, t job.Task, png []byte) (cid.Cid, error) {
	dir, err := os.MkdirTemp(w.scratch, "result-")
	if err != nil {
		return cid.Undef, err
	}
	defer os.RemoveAll(dir)
	name := filepath.Join(dir, resultName(t))
	if err := os.WriteFile(name, png, 0o644); err != nil {
		return cid.Undef, err
	}
	info, err := w.store.Add(ctx, []string{name})
	if err != nil {
		return cid.Undef, fmt.Errorf("sharing result: %w", err)
	}
	return info.CID, nil
}

// deliverAsset delivers asset c as the result of lease ref, whatever it
// holds and whoever holds the lease (the junk deliverer).
func (w wire) deliverAsset(ctx context.Context, pub peer.ID, ref work.Ref, c cid.Cid, claim int64) error {
	return w.client.Deliver(ctx, pub, work.Delivery{Ref: ref, Result: c, CU: claim})
}

func (w wire) fail(ctx context.Context, pub peer.ID, ref work.Ref, reason string) error {
	return w.client.Fail(ctx, pub, ref, reason)
}

func (w wire) release(ctx context.Context, pub peer.ID, ref work.Ref) error {
	return w.client.Release(ctx, pub, ref)
}

// collectReceipts countersigns what pub issued to this peer, as an honest
// volunteer does, and returns the receipts it accepted.
func (w wire) collectReceipts(ctx context.Context, pub peer.ID) ([]credits.SignedReceipt, error) {
	list, err := w.client.Receipts(ctx, pub)
	var out []credits.SignedReceipt
	for _, sr := range list {
		signed, err := w.ledger.Accept(sr, w.key)
		if err != nil {
			return out, err
		}
		if err := w.client.Countersign(ctx, pub, signed); err != nil {
			return out, err
		}
		out = append(out, signed)
	}
	return out, err
}

// resultName is the file name an honest volunteer gives a task's result.
func resultName(t job.Task) string {
	return fmt.Sprintf("frame_%04d_tile%02d.png", t.Frame, t.Tile)
}
