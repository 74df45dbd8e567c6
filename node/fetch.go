package node

import (
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"time"

	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/scheduler"
)

// JobStatus is one job's state and progress. Counts are per task (a task is
// a frame, or one tile of a frame when frames are split).
type JobStatus struct {
	ID        string
	Title     string
	Publisher string
	Renderer  string
	Mine      bool
	State     string
	Counts    scheduler.Counts
	FramesIn  int // frames in the job
	Created   time.Time
	ETA       time.Duration // 0 when unknown
	TasksLeft int           // for jobs seen announced
}

func (p *publisher) status(j *pubJob) JobStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	c := j.coord.Progress()
	s := JobStatus{
		ID: j.id.String(), Title: j.m.Title, Publisher: j.m.Publisher.String(),
		Renderer: j.m.Renderer.Name + " " + j.m.Renderer.Version, Mine: true,
		State: string(j.coord.State()), Counts: c, FramesIn: j.m.Frames.Len(),
		Created: time.Unix(j.m.Created, 0), TasksLeft: c.Total - c.Verified - c.Failed,
	}
	if c.Verified > 0 && !j.firstLease.IsZero() && s.TasksLeft > 0 {
		per := p.now().Sub(j.firstLease) / time.Duration(c.Verified)
		s.ETA = per * time.Duration(s.TasksLeft)
	}
	return s
}

// Fetched reports what fetch wrote.
type Fetched struct {
	Written []string
	Missing []int // frames not verified yet
}

// fetch writes the job's verified frames to dir as frame_NNNN.png,
// stitching tiles, and lists the frames not verified yet.
func (p *publisher) fetch(id, dir string) (Fetched, error) {
	j, err := p.job(id)
	if err != nil {
		return Fetched{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Fetched{}, err
	}
	var out Fetched
	for _, f := range j.m.Frames.Frames() {
		tiles := make([]string, 0, j.m.TileCount())
		for t := range j.m.TileCount() {
			j.mu.Lock()
			res, _, ok := j.coord.Accepted(job.Task{Job: j.id, Frame: f, Tile: t})
			j.mu.Unlock()
			if !ok {
				break
			}
			path, err := p.resultFile(res.CID)
			if err != nil {
				return out, err
			}
			tiles = append(tiles, path)
		}
		if len(tiles) < j.m.TileCount() {
			out.Missing = append(out.Missing, f)
			continue
		}
		dst := filepath.Join(dir, fmt.Sprintf("frame_%04d.png", f))
		if err := p.writeFrame(j.m, tiles, dst); err != nil {
			return out, err
		}
		out.Written = append(out.Written, dst)
	}
	return out, nil
}

// writeFrame writes one frame from its tiles' PNGs (one tile: a copy).
func (p *publisher) writeFrame(m job.Manifest, tiles []string, dst string) error {
	if len(tiles) == 1 {
		data, err := os.ReadFile(tiles[0])
		if err != nil {
			return err
		}
		return writeFileAtomic(dst, data)
	}
	full := image.NewNRGBA(image.Rect(0, 0, m.Width, m.Height))
	for i, path := range tiles {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("tile %d: %w", i, err)
		}
		r := m.TileRect(i)
		draw.Draw(full, r, img, img.Bounds().Min, draw.Src)
	}
	tmp := dst + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := png.Encode(f, full); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

func writeFileAtomic(dst string, data []byte) error {
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
