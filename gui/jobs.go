package gui

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Jobs is what the API needs of the node's job system.
type Jobs interface {
	Publish(ctx context.Context, req PublishRequest) (JobStatus, error)
	List() []JobStatus
	Status(id string) (JobStatus, error)
	Control(ctx context.Context, id, action string) error
	Fetch(id, dir string) (FetchResult, error)
	// Frames is the state of every frame of a job this node published.
	Frames(id string) ([]FrameState, error)
	// FrameImage is a verified frame of a job this node published, as PNG,
	// tiles stitched; thumb scales it to at most 160 pixels on its longer
	// side.
	FrameImage(id string, frame int, thumb bool) ([]byte, error)
}

// PublishRequest asks the node to publish a scene (a path on the node's
// machine). Zero values take the scene's own defaults.
type PublishRequest struct {
	Scene string `json:"scene"`
	// Root is the project folder (a path on the node's machine) whose
	// files the scene may use, packed with their layout kept; empty means
	// the scene's own folder.
	Root string `json:"root,omitempty"`
	// Outputs are files volunteers deliver with each frame besides the
	// verified PNG, by format: "exr" (OpenEXR, half float; Blender only).
	// They are bound to the PNG by its commitment, not compared.
	Outputs    []string `json:"outputs,omitempty"`
	Renderer   string   `json:"renderer,omitempty"`
	Frames     string   `json:"frames,omitempty"`
	First      string   `json:"first,omitempty"` // frames verified before the others are leased
	Replicas   int      `json:"replicas,omitempty"`
	Resolution string   `json:"resolution,omitempty"` // WIDTHxHEIGHT
	Samples    int      `json:"samples,omitempty"`
	Tiles      int      `json:"tiles,omitempty"`
	Seed       int      `json:"seed,omitempty"`
	Title      string   `json:"title,omitempty"`
	// TimeLimit bounds one task's render on a volunteer (Go duration);
	// empty means one hour. A render that takes longer fails.
	TimeLimit string `json:"time_limit,omitempty"`
}

// FrameCounts counts a job's tasks by state (a task is a frame, or a tile
// of one when frames are split).
type FrameCounts struct {
	Total     int `json:"total"`
	Verified  int `json:"verified"`
	Rendering int `json:"rendering"`
	Failed    int `json:"failed"`
	Queued    int `json:"queued"`
}

// JobStatus is one job as `status --json` prints it.
type JobStatus struct {
	ID         string      `json:"id"`
	Title      string      `json:"title"`
	State      string      `json:"state"`
	Frames     FrameCounts `json:"frames"`
	Publisher  string      `json:"publisher"`
	Renderer   string      `json:"renderer"`
	Mine       bool        `json:"mine"` // published by this node
	ETASeconds float64     `json:"eta_seconds,omitempty"`
	Created    time.Time   `json:"created"`
	// PriceCU is what the publisher's own render says a task is worth, in
	// CU; a volunteer is paid at most twice it. 0 until measured; only for
	// jobs this node published.
	PriceCU float64 `json:"price_cu,omitempty"`
	// Errors are the latest renders volunteers reported as failed (crash,
	// time limit), newest last; only for jobs this node published.
	Errors []TaskError `json:"errors,omitempty"`
	// Working is true for another publisher's job this volunteer holds a
	// lease of now.
	Working bool `json:"working,omitempty"`
}

// TaskError is a render a volunteer reported as failed, with the
// renderer's last words.
type TaskError struct {
	Frame  int       `json:"frame"`
	Tile   int       `json:"tile"`
	Peer   string    `json:"peer"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// FetchRequest asks for a job's verified frames under Out.
type FetchRequest struct {
	Out string `json:"out"`
}

// FetchResult lists the files written and the frames not verified yet.
type FetchResult struct {
	Written []string `json:"written"`
	Missing []int    `json:"missing"`
}

func (s *Server) handleJobsPublish(w http.ResponseWriter, r *http.Request) {
	var req PublishRequest
	if !decode(w, r, &req) {
		return
	}
	st, err := s.cfg.Jobs.Publish(r.Context(), req)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err)
		return
	}
	writeJSON(w, st)
}

func (s *Server) handleJobsList(w http.ResponseWriter, r *http.Request) {
	list := s.cfg.Jobs.List()
	if list == nil {
		list = []JobStatus{}
	}
	writeJSON(w, list)
}

func (s *Server) handleJobStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.cfg.Jobs.Status(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	writeJSON(w, st)
}

func (s *Server) handleJobControl(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Jobs.Control(r.Context(), r.PathValue("id"), r.PathValue("action")); err != nil {
		writeError(w, http.StatusUnprocessableEntity, err)
		return
	}
	writeJSON(w, struct{}{})
}

func (s *Server) handleJobFetch(w http.ResponseWriter, r *http.Request) {
	var req FetchRequest
	if !decode(w, r, &req) {
		return
	}
	res, err := s.cfg.Jobs.Fetch(r.PathValue("id"), req.Out)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err)
		return
	}
	writeJSON(w, res)
}

// Publish publishes a job.
func (c *Client) Publish(ctx context.Context, req PublishRequest) (JobStatus, error) {
	var st JobStatus
	return st, c.call(ctx, "POST", "/api/jobs", req, &st)
}

// Jobs lists published and announced jobs.
func (c *Client) Jobs(ctx context.Context) ([]JobStatus, error) {
	var l []JobStatus
	return l, c.call(ctx, "GET", "/api/jobs", nil, &l)
}

// Status reports one job.
func (c *Client) Status(ctx context.Context, id string) (JobStatus, error) {
	var st JobStatus
	return st, c.call(ctx, "GET", "/api/jobs/"+id, nil, &st)
}

// Control pauses, resumes or cancels a job.
func (c *Client) Control(ctx context.Context, id, action string) error {
	return c.call(ctx, "POST", "/api/jobs/"+id+"/"+action, struct{}{}, nil)
}

// Fetch writes a job's verified frames under dir (on the node's machine).
func (c *Client) Fetch(ctx context.Context, id, dir string) (FetchResult, error) {
	var res FetchResult
	return res, c.call(ctx, "POST", "/api/jobs/"+id+"/fetch", FetchRequest{Out: dir}, &res)
}

// Credits is what the API needs of the node's ledger.
type Credits interface {
	Balance() (Balance, error)
	Receipts(limit int) ([]Receipt, error)
}

// Balance is the node's ledger in compute units (1 CU: one second of a
// reference core's rendering).
type Balance struct {
	Balance float64 `json:"balance"`
	Earned  float64 `json:"earned"`
	Spent   float64 `json:"spent"`
}

// Receipt is one credited result, as earned or paid by this node.
type Receipt struct {
	Role          string    `json:"role"` // "volunteer" (earned) or "publisher" (paid)
	Counterpart   string    `json:"counterpart"`
	Task          string    `json:"task"`
	Result        string    `json:"result"`
	CU            float64   `json:"cu"`
	Issued        time.Time `json:"issued"`
	Countersigned bool      `json:"countersigned"`
}

// CreditsReport is the answer of GET /api/credits.
type CreditsReport struct {
	Balance
	Receipts []Receipt `json:"receipts"`
}

// maxReceipts bounds GET /api/credits?limit=N.
const maxReceipts = 10000

func (s *Server) handleCredits(w http.ResponseWriter, r *http.Request) {
	b, err := s.cfg.Credits.Balance()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	limit := 100
	if q := r.URL.Query().Get("limit"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("bad limit %q", q))
			return
		}
		limit = min(n, maxReceipts)
	}
	list, err := s.cfg.Credits.Receipts(limit)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	if list == nil {
		list = []Receipt{}
	}
	writeJSON(w, CreditsReport{Balance: b, Receipts: list})
}

// Credits reports the node's ledger.
func (c *Client) Credits(ctx context.Context) (CreditsReport, error) {
	var r CreditsReport
	return r, c.call(ctx, "GET", "/api/credits", nil, &r)
}
