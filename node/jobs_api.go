package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/scheduler"
)

// jobsAPI adapts the publisher and the volunteer's offer book to the API.
type jobsAPI struct{ n *node }

var _ gui.Jobs = jobsAPI{}

func toJobAPI(s JobStatus) gui.JobStatus {
	var errs []gui.TaskError
	for _, e := range s.Errors {
		errs = append(errs, gui.TaskError{Frame: e.Task.Frame, Tile: e.Task.Tile, Peer: e.Peer, Reason: e.Reason, At: e.At})
	}
	return gui.JobStatus{
		Errors: errs,
		ID:     s.ID, Title: s.Title, State: s.State, Publisher: s.Publisher, Renderer: s.Renderer,
		Mine: s.Mine, ETASeconds: s.ETA.Seconds(), Created: s.Created,
		Frames: gui.FrameCounts{Total: s.Counts.Total, Verified: s.Counts.Verified,
			Rendering: s.Counts.Rendering, Failed: s.Counts.Failed, Queued: s.Counts.Queued},
	}
}

func (a jobsAPI) Publish(ctx context.Context, req gui.PublishRequest) (gui.JobStatus, error) {
	pr := PublishRequest{
		Scene: req.Scene, Renderer: req.Renderer, Frames: req.Frames, First: req.First, Replicas: req.Replicas,
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
	return a.Status(id.String())
}

func (a jobsAPI) List() []gui.JobStatus {
	var out []gui.JobStatus
	for _, j := range a.n.pub.list() {
		out = append(out, toJobAPI(a.n.pub.status(j)))
	}
	if a.n.vol != nil {
		for _, o := range a.n.vol.offers.list(time.Now(), offerMaxAge) {
			out = append(out, gui.JobStatus{
				ID: o.ID.String(), Title: o.Manifest.Title, State: o.State,
				Publisher: o.Manifest.Publisher.String(),
				Renderer:  o.Manifest.Renderer.Name + " " + o.Manifest.Renderer.Version,
				Created:   time.Unix(o.Manifest.Created, 0),
				Frames:    gui.FrameCounts{Total: o.Manifest.TaskCount(), Queued: o.TasksLeft},
				Working:   a.n.vol.working(o.ID.String()),
			})
		}
	}
	return out
}

func (a jobsAPI) Status(id string) (gui.JobStatus, error) {
	j, err := a.n.pub.job(id)
	if err == nil {
		return toJobAPI(a.n.pub.status(j)), nil
	}
	for _, s := range a.List() {
		if s.ID == id {
			return s, nil
		}
	}
	return gui.JobStatus{}, err
}

func (a jobsAPI) Control(ctx context.Context, id, action string) error {
	if _, err := a.n.pub.job(id); err != nil {
		return fmt.Errorf("%w: %s", errNotPublisher, id)
	}
	err := a.n.pub.control(ctx, id, action)
	if errors.Is(err, scheduler.ErrCannotResume) {
		return fmt.Errorf("job %s was canceled and cannot be resumed", id)
	}
	return err
}

func (a jobsAPI) Fetch(id, dir string) (gui.FetchResult, error) {
	if !filepath.IsAbs(dir) {
		return gui.FetchResult{}, fmt.Errorf("output directory %q must be absolute", dir)
	}
	f, err := a.n.pub.fetch(id, dir)
	return gui.FetchResult{Written: f.Written, Missing: f.Missing}, err
}

func (a jobsAPI) Frames(id string) ([]gui.FrameState, error) {
	fs, err := a.n.pub.frames(id)
	if err != nil {
		return nil, err
	}
	out := make([]gui.FrameState, len(fs))
	for i, f := range fs {
		out[i] = gui.FrameState{Frame: f.Frame, State: string(f.State), Progress: f.Progress, Error: f.Error}
	}
	return out, nil
}

func (a jobsAPI) FrameImage(id string, frame int, thumb bool) ([]byte, error) {
	return a.n.pub.frameImage(id, frame, thumb)
}
