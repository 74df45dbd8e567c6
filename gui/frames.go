package gui

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// FrameState is one frame of a published job, for the frame grid.
type FrameState struct {
	Frame    int     `json:"frame"`
	State    string  `json:"state"`    // "queued", "rendering", "verifying", "verified", "failed"
	Progress float64 `json:"progress"` // 0..1 while rendering (mean over tiles and replicas)
	Error    string  `json:"error,omitempty"`
}

// Frame states (FrameState.State).
const (
	FrameQueued    = "queued"
	FrameRendering = "rendering"
	FrameVerifying = "verifying"
	FrameVerified  = "verified"
	FrameFailed    = "failed"
)

func (s *Server) handleFrames(w http.ResponseWriter, r *http.Request) {
	frames, err := s.cfg.Jobs.Frames(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	if frames == nil {
		frames = []FrameState{}
	}
	writeJSON(w, frames)
}

// handleFrameImage serves a verified frame, or its thumbnail when the path
// ends in /thumb. A verified frame never changes, so the browser may keep
// it.
func (s *Server) handleFrameImage(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("bad frame number %q", r.PathValue("n")))
		return
	}
	thumb := strings.HasSuffix(r.URL.Path, "/thumb")
	b, err := s.cfg.Jobs.FrameImage(r.PathValue("id"), n, thumb)
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	writePNG(w, b, "private, max-age=3600")
}

// handleFramesZip streams a zip of every verified frame, frame_NNNN.png.
// PNG is compressed already, so the entries are stored as they are.
func (s *Server) handleFramesZip(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	frames, err := s.cfg.Jobs.Frames(id)
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	var verified []int
	for _, f := range frames {
		if f.State == FrameVerified {
			verified = append(verified, f.Frame)
		}
	}
	if len(verified) == 0 {
		writeError(w, http.StatusNotFound, errors.New("no frame of this job is verified yet"))
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", zipName(id)))
	zw := zip.NewWriter(w)
	for _, n := range verified {
		if r.Context().Err() != nil {
			return
		}
		b, err := s.cfg.Jobs.FrameImage(id, n, false)
		if err != nil {
			// The headers are out: all that is left is to say so in the
			// log and leave the frame out.
			s.cfg.Logger.Warn("frameMissingFromZip", "job", id, "frame", n, "err", err)
			continue
		}
		f, err := zw.CreateHeader(&zip.FileHeader{
			Name:     fmt.Sprintf("frame_%04d.png", n),
			Method:   zip.Store,
			Modified: time.Now(),
		})
		if err != nil {
			return
		}
		if _, err := f.Write(b); err != nil {
			return
		}
	}
	zw.Close()
}

// zipName is a file name for a job's zip, from its ID's safe characters.
func zipName(id string) string {
	var b strings.Builder
	for _, c := range id {
		if c < 128 && (c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			b.WriteRune(c)
		}
		if b.Len() == 24 {
			break
		}
	}
	return "renderswarm-" + b.String() + "-frames.zip"
}

// Frames asks for the state of every frame of a job this node published.
func (c *Client) Frames(ctx context.Context, id string) ([]FrameState, error) {
	var f []FrameState
	return f, c.call(ctx, "GET", "/api/jobs/"+id+"/frames", nil, &f)
}
