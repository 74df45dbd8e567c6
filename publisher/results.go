package publisher

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

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
	err := os.Mkdir(dir, 0o700)
	if errors.Is(err, fs.ErrNotExist) { // the job's first result
		err = os.MkdirAll(dir, 0o700)
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
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
	var c cid.Cid
	if len(extras) == 0 {
		c, err = p.cfg.Assets.IdentifyFile(resultName(t), data)
	} else {
		c, err = p.cfg.Assets.Identify(dir, resultAssetName(dir, t, extras))
	}
	if err != nil {
		os.RemoveAll(dir)
		return cid.Undef, err
	}
	return c, nil
}

// pendingImage decodes a delivered, undecided result of the lease.
func (p *Publisher) pendingImage(j *pubJob, d scheduler.Delivery, t job.Task) (image.Image, error) {
	if img, ok := p.decoded.get(decodedKey{j.id, d.Lease}); ok {
		return img, nil
	}
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

// forget removes the waiting results of task t's leases: the files
// named by t, then the directory, or else (a file left by a crash) the
// whole directory.
func (p *Publisher) forget(j *pubJob, t job.Task, leases ...string) {
	for _, l := range leases {
		p.decoded.drop(decodedKey{j.id, l})
		dir := p.leaseDir(j, l)
		os.Remove(filepath.Join(dir, resultName(t)))
		for _, ext := range j.m.Extras() {
			os.Remove(filepath.Join(dir, extraName(t, ext)))
		}
		if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			os.RemoveAll(dir)
		}
	}
}

// decodedKey names a delivered result: its job and lease.
type decodedKey struct {
	job   cid.Cid
	lease string
}

// decoded keeps the latest delivered results as Deliver decoded them,
// until their task is decided: reading and decoding each again to verify
// it was 3 % of a busy publisher's CPU. It holds at most maxDecodedPixels,
// dropping the oldest; a result not held is read from its file.
type decoded struct {
	mu     sync.Mutex
	imgs   map[decodedKey]image.Image
	order  []decodedKey // oldest first; may name results dropped since
	pixels int
}

// maxDecodedPixels bounds what decoded holds: 64 MiB of 8-bit RGBA.
const maxDecodedPixels = 16 << 20

func pixelsOf(img image.Image) int { return img.Bounds().Dx() * img.Bounds().Dy() }

func (c *decoded) put(k decodedKey, img image.Image) {
	n := pixelsOf(img)
	if n > maxDecodedPixels {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.imgs == nil {
		c.imgs = map[decodedKey]image.Image{}
	}
	c.dropLocked(k)
	for c.pixels+n > maxDecodedPixels && len(c.order) > 0 {
		c.dropLocked(c.order[0])
		c.order = c.order[1:]
	}
	c.imgs[k] = img
	c.pixels += n
	c.order = append(c.order, k)
	if len(c.order) > 2*len(c.imgs)+64 { // forget the names of dropped ones
		c.order = slices.DeleteFunc(c.order, func(k decodedKey) bool { _, ok := c.imgs[k]; return !ok })
	}
}

func (c *decoded) get(k decodedKey) (image.Image, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	img, ok := c.imgs[k]
	return img, ok
}

func (c *decoded) drop(k decodedKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(k)
}

func (c *decoded) dropLocked(k decodedKey) {
	if img, ok := c.imgs[k]; ok {
		c.pixels -= pixelsOf(img)
		delete(c.imgs, k)
	}
}
