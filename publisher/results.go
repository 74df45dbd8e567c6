package publisher

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"

	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/internal/phase"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/scheduler"
)

// Delivered results wait in ResultsDir, one directory per lease, until
// their task is decided. Nothing there is shared: a result reaches the
// swarm only once it is accepted, when it is added to the asset store
// (pinned for the job's life: the artist's frames). The file is named by
// its task, so its CID — computed at delivery and recorded by the
// coordinator, and the one its receipts name — is the CID the store gives
// it when it is added.

// resultName is the file name of a task's result.
func resultName(t job.Task) string {
	return fmt.Sprintf("frame_%04d_tile%02d.png", t.Frame, t.Tile)
}

// leaseDir is where a lease's delivered result waits.
func (p *Publisher) leaseDir(j *pubJob, lease string) string {
	return filepath.Join(p.cfg.ResultsDir, j.id.String(), lease)
}

// resultBound is the largest PNG a result of task t may be: its tile's
// pixels at 16 bits per RGBA channel, stored uncompressed, plus room for
// PNG's framing and metadata.
func resultBound(m job.Manifest, t job.Task) int64 {
	r := m.TileRect(t.Tile)
	px := int64(r.Dx()) * int64(r.Dy())
	return px*8 + int64(r.Dy())*5 + 64<<10
}

// keep writes a delivered result into its lease's directory and returns
// the CID it will have when shared.
func (p *Publisher) keep(j *pubJob, lease string, t job.Task, data []byte, extras map[string][]byte) (cid.Cid, error) {
	dir := p.leaseDir(j, lease)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return cid.Undef, err
	}
	if err := writeFileAtomic(filepath.Join(dir, resultName(t)), data); err != nil {
		os.RemoveAll(dir)
		return cid.Undef, err
	}
	if err := keepExtras(dir, t, extras); err != nil {
		os.RemoveAll(dir)
		return cid.Undef, err
	}
	c, err := p.cfg.Assets.Identify(dir, resultAssetName(dir, t, extras))
	if err != nil {
		os.RemoveAll(dir)
		return cid.Undef, err
	}
	return c, nil
}

// pendingImage decodes a delivered, undecided result of the lease.
func (p *Publisher) pendingImage(j *pubJob, d scheduler.Delivery, t job.Task) (image.Image, error) {
	data, err := os.ReadFile(filepath.Join(p.leaseDir(j, d.Lease), resultName(t)))
	if err != nil {
		return nil, err
	}
	return checkResult(data, resultSize(j.m, t, d.Crop))
}

// resultSize is the size of a delivered result: its tile's, or its crop's
// for a check replica.
func resultSize(m job.Manifest, t job.Task, crop image.Rectangle) image.Point {
	if !crop.Empty() {
		return crop.Size()
	}
	return m.TileRect(t.Tile).Size()
}

// share adds an accepted result to the asset store, pinned, and checks it
// got the CID its receipts name. It is announced on the DHT later
// (assets.Store.AddLater): at hundreds of results a second, announcing
// each at once took 40 % of the publisher's CPU, and its volunteers'.
func (p *Publisher) share(ctx context.Context, j *pubJob, lease string, t job.Task, want cid.Cid) error {
	defer phase.Default.Since("publisher.verify.share", phase.Now())
	info, err := p.cfg.Assets.AddLater(ctx, []string{resultAssetPath(p.leaseDir(j, lease), t, j.m)})
	if err != nil {
		return fmt.Errorf("sharing result of %s: %w", t, err)
	}
	if !info.CID.Equals(want) {
		return fmt.Errorf("sharing result of %s: stored as %s, delivered as %s", t, info.CID, want)
	}
	return nil
}

// forget removes the waiting results of leases.
func (p *Publisher) forget(j *pubJob, leases ...string) {
	for _, l := range leases {
		os.RemoveAll(p.leaseDir(j, l))
	}
}
