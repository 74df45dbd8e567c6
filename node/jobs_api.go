package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/publisher"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/volunteer"
)

// jobsAPI adapts the publisher and the volunteer's offers to the API. Job
// IDs are parsed here, once.
type jobsAPI struct{ n *node }

var _ gui.Jobs = jobsAPI{}

// jobStatus is a published job as the API shows it.
func jobStatus(s publisher.Status) gui.JobStatus {
	var errs []gui.TaskError
	for _, e := range s.Errors {
		errs = append(errs, gui.TaskError{Frame: e.Task.Frame, Tile: e.Task.Tile, Peer: e.Peer.String(), Reason: e.Reason, At: e.At})
	}
	m := s.Manifest
	return gui.JobStatus{
		ID: s.ID.String(), Title: m.Title, State: string(s.State), Publisher: m.Publisher.String(),
		Renderer: m.Renderer.Name + " " + m.Renderer.Version, Mine: true,
		ETASeconds: s.ETA.Seconds(), Created: time.Unix(m.Created, 0), Errors: errs, PriceCU: float64(s.Price) / 1000,
		Frames: gui.FrameCounts{Total: s.Counts.Total, Verified: s.Counts.Verified,
			Rendering: s.Counts.Rendering, Failed: s.Counts.Failed, Queued: s.Counts.Queued},
	}
}

// offerStatus is a job another node announced, as the API shows it.
func offerStatus(o volunteer.Offer, working bool) gui.JobStatus {
	return gui.JobStatus{
		ID: o.ID.String(), Title: o.Manifest.Title, State: o.State,
		Publisher: o.Manifest.Publisher.String(),
		Renderer:  o.Manifest.Renderer.Name + " " + o.Manifest.Renderer.Version,
		Created:   time.Unix(o.Manifest.Created, 0),
		Frames:    gui.FrameCounts{Total: o.Manifest.TaskCount(), Queued: o.TasksLeft},
		Working:   working,
	}
}

func (a jobsAPI) Publish(ctx context.Context, req gui.PublishRequest) (gui.JobStatus, error) {
	pr := publisher.Request{
		Scene: req.Scene, Root: req.Root, Renderer: req.Renderer, Frames: req.Frames, First: req.First, Replicas: req.Replicas,
		Samples: req.Samples, Tiles: req.Tiles, Seed: req.Seed, Title: req.Title,
	}
	if req.TimeLimit != "" {
		d, err := time.ParseDuration(req.TimeLimit)
		if err != nil || d < time.Second {
			return gui.JobStatus{}, fmt.Errorf("time limit %q: want a duration of at least 1s, like 90s or 2h", req.TimeLimit)
		}
		pr.MaxSeconds = int(d.Round(time.Second) / time.Second)
	}
	if !filepath.IsAbs(pr.Scene) {
		return gui.JobStatus{}, fmt.Errorf("scene path %q must be absolute", pr.Scene)
	}
	switch {
	case len(req.Outputs) == 0:
	case len(req.Outputs) == 1 && req.Outputs[0] == "exr":
		if req.Renderer != "blender" {
			return gui.JobStatus{}, fmt.Errorf("an OpenEXR output needs the blender renderer, not %q", req.Renderer)
		}
		if req.Tiles > 1 {
			return gui.JobStatus{}, fmt.Errorf("an OpenEXR output needs whole frames, not %d tiles", req.Tiles)
		}
		pr.Output = job.OutputPNGEXR
	default:
		return gui.JobStatus{}, fmt.Errorf("outputs %q: the only extra output is exr", req.Outputs)
	}
	if pr.Root != "" && !filepath.IsAbs(pr.Root) {
		return gui.JobStatus{}, fmt.Errorf("project root %q must be absolute", pr.Root)
	}
	if req.Resolution != "" {
		w, h, err := render.ParseResolution(req.Resolution)
		if err != nil {
			return gui.JobStatus{}, fmt.Errorf("resolution: %w", err)
		}
		pr.Width, pr.Height = w, h
	}
	id, err := a.n.pub.Publish(ctx, pr)
	if err != nil {
		return gui.JobStatus{}, err
	}
	s, err := a.n.pub.Status(id)
	return jobStatus(s), err
}

func (a jobsAPI) List() []gui.JobStatus {
	var out []gui.JobStatus
	for _, s := range a.n.pub.List() {
		out = append(out, jobStatus(s))
	}
	if a.n.vol != nil {
		for _, o := range a.n.vol.Offers() {
			out = append(out, offerStatus(o, a.n.vol.Working(o.ID)))
		}
	}
	return out
}

func (a jobsAPI) Status(text string) (gui.JobStatus, error) {
	id, err := job.ParseID(text)
	if err != nil {
		return gui.JobStatus{}, err
	}
	s, err := a.n.pub.Status(id)
	if err == nil {
		return jobStatus(s), nil
	}
	if a.n.vol != nil {
		for _, o := range a.n.vol.Offers() {
			if o.ID == id {
				return offerStatus(o, a.n.vol.Working(id)), nil
			}
		}
	}
	return gui.JobStatus{}, err
}

// published parses a job ID and checks that this node published it.
func (a jobsAPI) published(text string) (cid.Cid, error) {
	id, err := job.ParseID(text)
	if err != nil {
		return cid.Undef, err
	}
	if _, err := a.n.pub.Status(id); err != nil {
		return cid.Undef, err
	}
	return id, nil
}

func (a jobsAPI) Control(ctx context.Context, text, action string) error {
	id, err := a.published(text)
	if err != nil {
		return err
	}
	err = a.n.pub.Control(ctx, id, publisher.Action(action))
	if errors.Is(err, publisher.ErrCannotResume) {
		return fmt.Errorf("job %s was canceled and cannot be resumed", id)
	}
	return err
}

func (a jobsAPI) Fetch(text, dir string) (gui.FetchResult, error) {
	if !filepath.IsAbs(dir) {
		return gui.FetchResult{}, fmt.Errorf("output directory %q must be absolute", dir)
	}
	id, err := a.published(text)
	if err != nil {
		return gui.FetchResult{}, err
	}
	f, err := a.n.pub.Fetch(id, dir)
	return gui.FetchResult{Written: f.Written, Missing: f.Missing}, err
}

func (a jobsAPI) Frames(text string) ([]gui.FrameState, error) {
	id, err := a.published(text)
	if err != nil {
		return nil, err
	}
	fs, err := a.n.pub.Frames(id)
	if err != nil {
		return nil, err
	}
	out := make([]gui.FrameState, len(fs))
	for i, f := range fs {
		out[i] = gui.FrameState{Frame: f.Frame, State: string(f.State), Progress: f.Progress, Error: f.Error}
	}
	return out, nil
}

func (a jobsAPI) FrameImage(text string, frame int, thumb bool) ([]byte, error) {
	id, err := a.published(text)
	if err != nil {
		return nil, err
	}
	return a.n.pub.FrameImage(id, frame, thumb)
}
