package node

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"slices"
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
	Errors    []TaskError   // latest failed renders, newest last
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
		Errors: slices.Clone(j.errors),
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
		tiles, err := p.frameTiles(j, f)
		if err != nil {
			return out, err
		}
		if tiles == nil {
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

// frameTiles lists the result files of a frame's tiles, or nil when some
// tile is not verified yet.
func (p *publisher) frameTiles(j *pubJob, frame int) ([]string, error) {
	tiles := make([]string, 0, j.m.TileCount())
	for t := range j.m.TileCount() {
		j.mu.Lock()
		res, _, ok := j.coord.Accepted(job.Task{Job: j.id, Frame: frame, Tile: t})
		j.mu.Unlock()
		if !ok {
			return nil, nil
		}
		path, err := p.resultFile(res.CID)
		if err != nil {
			return nil, err
		}
		tiles = append(tiles, path)
	}
	return tiles, nil
}

// writeFrame writes one frame from its tiles' PNGs (one tile: a copy).
func (p *publisher) writeFrame(m job.Manifest, tiles []string, dst string) error {
	data, err := frameBytes(m, tiles)
	if err != nil {
		return err
	}
	return writeFileAtomic(dst, data)
}

// frameBytes is one frame as PNG, stitched from its tiles' PNGs (one tile:
// its bytes as they are).
func frameBytes(m job.Manifest, tiles []string) ([]byte, error) {
	if len(tiles) == 1 {
		return os.ReadFile(tiles[0])
	}
	full := image.NewNRGBA(image.Rect(0, 0, m.Width, m.Height))
	for i, path := range tiles {
		img, err := loadPNG(path)
		if err != nil {
			return nil, fmt.Errorf("tile %d: %w", i, err)
		}
		draw.Draw(full, m.TileRect(i), img, img.Bounds().Min, draw.Src)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, full); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeFileAtomic(dst string, data []byte) error {
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
