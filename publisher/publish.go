package publisher

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/assets"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/scheduler"
)

// Request is what the artist asks for; zero values take the scene's
// defaults.
type Request struct {
	Scene      string // path on this machine
	Root       string // project root holding the scene and its files; "" means the scene's folder
	Output     string // job.OutputPNG or job.OutputPNGEXR; "" means job.OutputPNG
	Renderer   string // "" means the built-in renderer
	Frames     string // frame spec; "" means the scene's own range
	First      string // frames verified before the others are leased
	Replicas   int    // 0 means 2
	Width      int
	Height     int
	Samples    int
	Tiles      int
	Seed       int
	Title      string
	MaxSeconds int // per task; 0: one hour
}

// Publish packs the scene, shares it, signs the manifest, starts
// coordinating the job and announces it. Publishing the same job twice in
// one second returns the first.
func (p *Publisher) Publish(ctx context.Context, req Request) (cid.Cid, error) {
	if req.Renderer == "" {
		req.Renderer = job.BuiltinRenderer
	}
	b, ok := p.cfg.Backends[req.Renderer]
	if !ok {
		return cid.Undef, fmt.Errorf("unknown renderer %q", req.Renderer)
	}
	info, ok := p.cfg.Infos[req.Renderer]
	if !ok {
		return cid.Undef, fmt.Errorf("renderer %s is not installed on this node", req.Renderer)
	}
	packed, err := packProject(ctx, b, req.Scene, req.Root, p.cfg.WorkDir)
	if err != nil {
		return cid.Undef, err
	}
	defer os.RemoveAll(filepath.Dir(packed.Dir))
	scene, err := p.shareScene(ctx, packed.Dir)
	if err != nil {
		return cid.Undef, fmt.Errorf("sharing scene: %w", err)
	}
	m, err := p.manifest(req, info.Version, scene.CID, packed)
	if err != nil {
		return cid.Undef, err
	}
	sm, err := m.Sign(p.cfg.Key)
	if err != nil {
		return cid.Undef, err
	}
	signed, err := sm.Marshal()
	if err != nil {
		return cid.Undef, err
	}
	id := sm.ID()
	if j, err := p.job(id); err == nil {
		return j.id, nil
	}
	coord, err := scheduler.New(p.coordConfig(id, m))
	if err != nil {
		return cid.Undef, err
	}
	fresh, err := coord.Changes()
	if err != nil {
		return cid.Undef, err
	}
	if err := p.jobs.insert(id.String(), signed, fresh.Header, 0, p.clock.Now()); err != nil {
		return cid.Undef, err
	}
	j := newPubJob(id, m, signed, 0, coord)
	p.mu.Lock()
	p.active[id] = j
	p.mu.Unlock()
	select {
	case p.added <- struct{}{}:
	default:
	}
	p.log.Info("jobPublished", "job", id, "frames", m.Frames.String(), "tasks", m.TaskCount())
	p.announce(ctx, j)
	return id, nil
}

// listingAdder is the asset store's AddListing: a scene shared as a
// listing is fetched file by file, so a volunteer that holds a texture from
// another job does not fetch it again. Stores without it (test fakes)
// share the scene as one torrent, the format volunteers read since the
// start.
type listingAdder interface {
	AddListing(ctx context.Context, paths []string) (assets.Info, error)
}

// shareScene adds the packed scene to the asset store.
func (p *Publisher) shareScene(ctx context.Context, dir string) (assets.Info, error) {
	if la, ok := p.cfg.Assets.(listingAdder); ok {
		return la.AddListing(ctx, []string{dir})
	}
	return p.cfg.Assets.Add(ctx, []string{dir})
}

// manifest fills a manifest from the request and the scene's defaults.
func (p *Publisher) manifest(req Request, version string, scene cid.Cid, packed packedScene) (job.Manifest, error) {
	info := packed.Info
	spec := req.Frames
	if spec == "" {
		spec = fmt.Sprintf("%d-%d", info.FrameStart, info.FrameEnd)
	}
	frames, err := job.ParseFrameSpec(spec)
	if err != nil {
		return job.Manifest{}, err
	}
	var first job.FrameSpec
	if req.First != "" {
		if first, err = job.ParseFrameSpec(req.First); err != nil {
			return job.Manifest{}, fmt.Errorf("first frames: %w", err)
		}
	}
	pick := func(v, def, fallback int) int {
		if v != 0 {
			return v
		}
		if def != 0 {
			return def
		}
		return fallback
	}
	m := job.Manifest{
		Version:   job.FormatVersion,
		Publisher: p.self,
		Created:   p.clock.Now().Unix(),
		Title:     req.Title,
		Renderer:  job.Renderer{Name: req.Renderer, Version: version},
		Scene:     job.Scene{Asset: scene, Main: packed.Main},
		Frames:    frames,
		First:     first,
		Tiles:     req.Tiles,
		Width:     pick(req.Width, info.Width, 640),
		Height:    pick(req.Height, info.Height, 360),
		Samples:   pick(req.Samples, info.Samples, 0), // 0: the scene file's own anti-aliasing
		Seed:      req.Seed,
		Output:    cmp.Or(req.Output, job.OutputPNG),
		Profile:   job.DefaultProfile(req.Renderer),
		Replicas:  pick(req.Replicas, 0, 2),
		Limits:    job.Limits{MaxSecondsPerFrame: pick(req.MaxSeconds, 0, 3600), MaxMemoryMiB: 4096},
	}
	if m.Title == "" {
		m.Title = filepath.Base(req.Scene)
	}
	if err := m.Validate(); err != nil {
		return job.Manifest{}, err
	}
	return m, nil
}
