package node

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"slices"

	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/scheduler"
)

// FrameState is one frame of a published job: its tiles' states merged.
type FrameState struct {
	Frame    int
	State    scheduler.TaskState
	Progress float64 // mean render progress of its open leases, 0..1
	Error    string  // the latest failed render's reason
}

// frames reports every frame of a job this node published.
func (p *publisher) frames(id string) ([]FrameState, error) {
	j, err := p.job(id)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	states := j.coord.TaskStates()
	progress := map[job.Task][]float64{}
	for lease, f := range j.progress {
		if t, ok := j.coord.LeaseTask(lease); ok {
			progress[t] = append(progress[t], f)
		}
	}
	lastErr := map[int]string{}
	for _, e := range j.errors {
		lastErr[e.Task.Frame] = e.Reason
	}
	var out []FrameState
	for _, f := range j.m.Frames.Frames() {
		fs := FrameState{Frame: f, Error: lastErr[f]}
		var tileStates []scheduler.TaskState
		var sum float64
		var n int
		for t := range j.m.TileCount() {
			task := job.Task{Job: j.id, Frame: f, Tile: t}
			tileStates = append(tileStates, states[task])
			for _, v := range progress[task] {
				sum += v
				n++
			}
		}
		fs.State = mergeStates(tileStates)
		if n > 0 {
			fs.Progress = sum / float64(n)
		}
		out = append(out, fs)
	}
	return out, nil
}

// mergeStates is a frame's state from its tiles': failed if any failed,
// verified if all are, else the busiest of rendering, verifying, queued.
func mergeStates(tiles []scheduler.TaskState) scheduler.TaskState {
	for _, s := range []scheduler.TaskState{scheduler.TaskFailed, scheduler.TaskRendering, scheduler.TaskVerifying} {
		if slices.Contains(tiles, s) {
			return s
		}
	}
	if slices.Contains(tiles, scheduler.TaskQueued) {
		if slices.Contains(tiles, scheduler.TaskVerified) {
			return scheduler.TaskRendering // partly done
		}
		return scheduler.TaskQueued
	}
	return scheduler.TaskVerified
}

// frameImage is a verified frame of a published job as PNG; thumb scales
// it down to at most thumbSize pixels on its longer side.
func (p *publisher) frameImage(id string, frame int, thumb bool) ([]byte, error) {
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
	return thumbnailPNG(data, thumbSize)
}

// thumbSize is the longer side of frame thumbnails; previewSize that of the
// volunteer's last render.
const (
	thumbSize   = 160
	previewSize = 320
)

// thumbnailPNG scales a PNG down (box filter) so that its longer side is at
// most size pixels; smaller images are returned as they are.
func thumbnailPNG(data []byte, size int) ([]byte, error) {
	src, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	b := src.Bounds()
	if b.Dx() <= size && b.Dy() <= size {
		return data, nil
	}
	w, h := size, max(1, b.Dy()*size/b.Dx())
	if b.Dy() > b.Dx() {
		w, h = max(1, b.Dx()*size/b.Dy()), size
	}
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		y0, y1 := b.Min.Y+y*b.Dy()/h, b.Min.Y+max((y+1)*b.Dy()/h, y*b.Dy()/h+1)
		for x := range w {
			x0, x1 := b.Min.X+x*b.Dx()/w, b.Min.X+max((x+1)*b.Dx()/w, x*b.Dx()/w+1)
			var r, g, bl, a, n uint64
			for sy := y0; sy < y1; sy++ {
				for sx := x0; sx < x1; sx++ {
					cr, cg, cb, ca := src.At(sx, sy).RGBA()
					r, g, bl, a, n = r+uint64(cr), g+uint64(cg), bl+uint64(cb), a+uint64(ca), n+1
				}
			}
			i := dst.PixOffset(x, y)
			if a == 0 {
				continue
			}
			// Un-premultiply the averaged colour for NRGBA.
			dst.Pix[i+0] = uint8(r * 255 / a)
			dst.Pix[i+1] = uint8(g * 255 / a)
			dst.Pix[i+2] = uint8(bl * 255 / a)
			dst.Pix[i+3] = uint8(a / n >> 8)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, dst); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
