package publisher

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/scheduler"
	"github.com/renderswarm/renderswarm/work"
)

// Extra outputs (job.Manifest.Extras, e.g. an OpenEXR beside the PNG)
// arrive in one delivery with the PNG (a work bundle) and are bound to it
// by the result's commitment (job.ResultDigest): a file changed after the
// volunteer committed fails the commitment like a changed pixel. Only the
// PNG is verified; the extras of replicas that agreed on it are compared
// byte for byte, and a difference is reported in the job's status, never
// punished (compareExtras). The extras of the accepted result are kept
// with its PNG, in one result asset (the lease's folder), and fetched
// beside the frame as frame_NNNN.EXT.

// extraBound is the largest extra file of a task: its tile's pixels at 32
// bits per RGBA channel, uncompressed, plus room for headers.
func extraBound(m job.Manifest, t job.Task) int64 {
	r := m.TileRect(t.Tile)
	return int64(r.Dx())*int64(r.Dy())*16 + 64<<10
}

// deliveryBound is the largest delivery of task t: its PNG, or a bundle of
// its PNG and extras.
func deliveryBound(m job.Manifest, t job.Task) int64 {
	b := resultBound(m, t)
	if n := len(m.Extras()); n > 0 {
		b += int64(n)*extraBound(m, t) + int64(n+1)*1024
	}
	return b
}

// openDelivery splits a delivery into the PNG and the extras the job
// asks for, each checked for its format's signature.
func openDelivery(m job.Manifest, t job.Task, data []byte) ([]byte, map[string][]byte, error) {
	want := m.Extras()
	if len(want) == 0 {
		return data, nil, nil
	}
	png, extras, err := work.ReadBundle(data, want, max(resultBound(m, t), extraBound(m, t)))
	if err != nil {
		return nil, nil, err
	}
	if exr, ok := extras["exr"]; ok && !strings.HasPrefix(string(exr), "\x76\x2f\x31\x01") {
		return nil, nil, fmt.Errorf("%w: the exr entry is not an OpenEXR file", work.ErrBadBundle)
	}
	return png, extras, nil
}

// extraName is the file name of a task's extra output.
func extraName(t job.Task, ext string) string {
	return strings.TrimSuffix(resultName(t), ".png") + "." + ext
}

// keepExtras writes a delivered result's extras beside its PNG.
func keepExtras(dir string, t job.Task, extras map[string][]byte) error {
	for ext, b := range extras {
		if err := writeFileAtomic(filepath.Join(dir, extraName(t, ext)), b); err != nil {
			return err
		}
	}
	return nil
}

// resultAssetName is the name Identify gives a result: its PNG alone, or,
// with extras, the lease's folder holding the PNG and the extras.
func resultAssetName(dir string, t job.Task, extras map[string][]byte) string {
	if len(extras) == 0 {
		return resultName(t)
	}
	return filepath.Base(dir)
}

// resultAssetPath is what share adds for a result: the PNG, or the folder
// holding it and its extras.
func resultAssetPath(dir string, t job.Task, m job.Manifest) string {
	if len(m.Extras()) == 0 {
		return filepath.Join(dir, resultName(t))
	}
	return dir
}

// resultExtras lists the extra files of an accepted result asset by
// extension.
func (p *Publisher) resultExtras(j *pubJob, png string) map[string]string {
	out := map[string]string{}
	for _, ext := range j.m.Extras() {
		f := strings.TrimSuffix(png, filepath.Ext(png)) + "." + ext
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			out[ext] = f
		}
	}
	return out
}

// fetchExtras copies the extras of a verified frame (whole frames only)
// to dir as frame_NNNN.EXT.
func (p *Publisher) fetchExtras(j *pubJob, tiles []string, dir string, frame int) ([]string, error) {
	if len(tiles) != 1 || len(j.m.Extras()) == 0 {
		return nil, nil
	}
	var written []string
	for _, ext := range j.m.Extras() {
		src, ok := p.resultExtras(j, tiles[0])[ext]
		if !ok {
			return written, fmt.Errorf("frame %d: its verified result holds no %s file", frame, ext)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return written, err
		}
		dst := filepath.Join(dir, fmt.Sprintf("frame_%04d.%s", frame, ext))
		if err := writeFileAtomic(dst, b); err != nil {
			return written, err
		}
		written = append(written, dst)
	}
	return written, nil
}

// compareExtras looks at the extras of the results that agreed on the
// PNG. Renderers write them reproducibly (render/blender zeroes what
// differs between honest renders of the same pixels), so agreeing
// replicas on one kind of CPU deliver identical files; when they differ,
// one replica changed its file before committing, or they rendered on
// CPUs whose floating point differs slightly. Extras are not verified, so
// nobody is punished: the job's status names the frame and the peer, and
// the artist knows that frame's extra file is not confirmed.
func (p *Publisher) compareExtras(j *pubJob, tr scheduler.TaskResults, agreeing []int) {
	if len(agreeing) < 2 {
		return
	}
	for _, ext := range j.m.Extras() {
		var first [sha256.Size]byte
		var firstPeer peer.ID
		for k, i := range agreeing {
			r := tr.Results[i]
			b, err := os.ReadFile(filepath.Join(p.leaseDir(j, r.Lease), extraName(tr.Task, ext)))
			if err != nil {
				return // an unreadable result is the PNG check's business
			}
			sum := sha256.Sum256(b)
			if k == 0 {
				first, firstPeer = sum, r.Peer
				continue
			}
			if sum != first {
				p.log.Warn("extrasDiffer", "task", tr.Task.String(), "format", ext, "peer", r.Peer, "other", firstPeer)
				j.mu.Lock()
				j.noteError(TaskError{Task: tr.Task, Peer: r.Peer, At: p.clock.Now(),
					Reason: fmt.Sprintf("its %s differs from %s's, though their PNGs agree: the %s of this frame is not confirmed", ext, firstPeer, ext)})
				j.mu.Unlock()
			}
		}
	}
}
