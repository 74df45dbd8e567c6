package publisher

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/internal/imaging"
	"github.com/renderswarm/renderswarm/job"
)

// Fetched reports what Fetch wrote.
type Fetched struct {
	Written []string
	Missing []int // frames not verified yet
}

// Fetch writes a job's verified frames to dir as frame_NNNN.png, stitching
// tiles, with their extra outputs as frame_NNNN.EXT, and lists the frames
// not verified yet.
func (p *Publisher) Fetch(id cid.Cid, dir string) (Fetched, error) {
	p.shares.reading.RLock()
	defer p.shares.reading.RUnlock()
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
		data, err := frameBytes(j.m, tiles)
		if err != nil {
			return out, err
		}
		if err := writeFileAtomic(dst, data); err != nil {
			return out, err
		}
		out.Written = append(out.Written, dst)
		written, err := p.fetchExtras(j, tiles, dir, f)
		out.Written = append(out.Written, written...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// FrameImage is a verified frame of a job as PNG; thumb scales it down to
// at most imaging.ThumbSize pixels on its longer side.
func (p *Publisher) FrameImage(id cid.Cid, frame int, thumb bool) ([]byte, error) {
	p.shares.reading.RLock()
	defer p.shares.reading.RUnlock()
	j, err := p.job(id)
	if err != nil {
		return nil, err
	}
	if !j.m.Frames.Contains(frame) {
		return nil, fmt.Errorf("job %s has no frame %d", id, frame)
	}
	tiles, err := p.frameTiles(j, frame)
	if err != nil {
		return nil, err
	}
	if tiles == nil {
		return nil, fmt.Errorf("frame %d of job %s is not verified yet", frame, id)
	}
	data, err := frameBytes(j.m, tiles)
	if err != nil || !thumb {
		return data, err
	}
	return imaging.Thumbnail(data, imaging.ThumbSize)
}

// frameTiles lists the result files of a frame's tiles, or nil when some
// tile is not verified yet.
func (p *Publisher) frameTiles(j *pubJob, frame int) ([]string, error) {
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

// frameBytes is one frame as PNG, stitched from its tiles' PNGs (one tile:
// its bytes as they are).
func frameBytes(m job.Manifest, tiles []string) ([]byte, error) {
	if len(tiles) == 1 {
		return os.ReadFile(tiles[0])
	}
	full := image.NewNRGBA(image.Rect(0, 0, m.Width, m.Height))
	for i, path := range tiles {
		img, err := imaging.LoadPNG(path)
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

// resultFile is the one PNG inside a result asset, or, until the sharer
// has added it to the asset store, in its lease's directory.
func (p *Publisher) resultFile(result cid.Cid) (string, error) {
	if f, ok := p.unshared(result); ok {
		if _, err := os.Stat(f); err == nil {
			return f, nil
		}
	}
	dir, err := p.cfg.Assets.Path(result)
	if err != nil {
		return "", err
	}
	var found []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(strings.ToLower(d.Name()), ".png") {
			found = append(found, path)
		}
		return nil
	})
	if len(found) != 1 {
		return "", fmt.Errorf("result %s holds %d PNG files, want one", result, len(found))
	}
	return found[0], nil
}

// resultImage decodes a fetched result at its task's size.
func (p *Publisher) resultImage(j *pubJob, t job.Task, result cid.Cid) (image.Image, error) {
	path, err := p.resultFile(result)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return checkResult(data, j.m.TileRect(t.Tile).Size())
}
