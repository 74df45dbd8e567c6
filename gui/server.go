package gui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// NodeInfo is what the API needs to describe the node.
type NodeInfo interface {
	ID() ID
	Peers() []Peer
	Network() Network
}

// Assets is what the API needs of the asset store.
type Assets interface {
	Add(ctx context.Context, paths []string) (Asset, error)
	Get(ctx context.Context, cid string, progress func(Progress)) (Asset, error)
	Export(cid, dir string) error
	List() ([]Asset, error)
	Pin(cid string, pinned bool) error
}

// Config configures a Server.
type Config struct {
	Token       string // required: every API request must present it
	Node        NodeInfo
	Assets      Assets
	Sharing     Sharing     // nil: no interop endpoints
	Collections Collections // nil: no collection endpoints
	Jobs        Jobs
	Credits     Credits
	Volunteer   Volunteer    // nil when the node runs with --no-volunteer
	Logger      *slog.Logger // nil means slog.Default()
}

// Server serves the API and the web app.
type Server struct {
	cfg Config
	mux *http.ServeMux
	// tick is how often the event stream looks for a changed state.
	tick time.Duration
	// streams bounds the event streams served at once.
	streams chan struct{}
	mu      sync.Mutex                     // guards down
	down    map[*http.Server]chan struct{} // closed when that server shuts down
	// owner tells which user holds the client end of a connection.
	owner func(local net.Addr, remote string) (uid int, ok bool)
}

// maxBody bounds request bodies; the API takes paths and CIDs, not data.
const maxBody = 1 << 20

// NewServer builds the handler tree.
func NewServer(cfg Config) (*Server, error) {
	if len(cfg.Token) < 16 {
		return nil, errors.New("gui: API token missing or too short")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg:     cfg,
		mux:     http.NewServeMux(),
		tick:    time.Second,
		streams: make(chan struct{}, maxStreams),
		down:    map[*http.Server]chan struct{}{},
		owner:   connOwner,
	}
	s.mux.HandleFunc("GET /{$}", s.handleIndex)
	s.mux.Handle("GET /", staticFiles())
	s.mux.HandleFunc("GET /api/id", s.handleID)
	s.mux.HandleFunc("GET /api/peers", s.handlePeers)
	s.mux.HandleFunc("GET /api/assets", s.handleAssetsList)
	s.mux.HandleFunc("POST /api/assets", s.handleAssetsAdd)
	s.mux.HandleFunc("POST /api/assets/get", s.handleAssetsGet)
	s.mux.HandleFunc("POST /api/assets/pin", s.handleAssetsPin)
	s.mux.HandleFunc("POST /api/jobs", s.handleJobsPublish)
	s.mux.HandleFunc("GET /api/jobs", s.handleJobsList)
	s.mux.HandleFunc("GET /api/jobs/{id}", s.handleJobStatus)
	s.mux.HandleFunc("POST /api/jobs/{id}/{action}", s.handleJobControl)
	s.mux.HandleFunc("POST /api/jobs/{id}/fetch", s.handleJobFetch)
	s.mux.HandleFunc("GET /api/credits", s.handleCredits)
	s.mux.HandleFunc("GET /api/network", s.handleNetwork)
	s.mux.HandleFunc("GET /api/jobs/{id}/frames", s.handleFrames)
	s.mux.HandleFunc("GET /api/jobs/{id}/frames/{n}", s.handleFrameImage)
	s.mux.HandleFunc("GET /api/jobs/{id}/frames/{n}/thumb", s.handleFrameImage)
	s.mux.HandleFunc("GET /api/jobs/{id}/frames.zip", s.handleFramesZip)
	s.mux.HandleFunc("GET /api/settings", s.handleSettings)
	s.mux.HandleFunc("PUT /api/settings", s.handleUpdateSettings)
	s.mux.HandleFunc("GET /api/activity", s.handleActivity)
	s.mux.HandleFunc("GET /api/volunteer/preview", s.handlePreview)
	s.mux.HandleFunc("GET /api/browse", s.handleBrowse)
	s.mux.HandleFunc("GET /api/events", s.handleEvents)
	s.routeCollections()
	return s, nil
}

func (s *Server) handleNetwork(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.cfg.Node.Network())
}

func (s *Server) handleID(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.cfg.Node.ID())
}

func (s *Server) handlePeers(w http.ResponseWriter, r *http.Request) {
	peers := s.cfg.Node.Peers()
	if peers == nil {
		peers = []Peer{}
	}
	writeJSON(w, peers)
}

func (s *Server) handleAssetsList(w http.ResponseWriter, r *http.Request) {
	list, err := s.cfg.Assets.List()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	if list == nil {
		list = []Asset{}
	}
	writeJSON(w, list)
}

func (s *Server) handleAssetsAdd(w http.ResponseWriter, r *http.Request) {
	var req AddAssetsRequest
	if !decode(w, r, &req) {
		return
	}
	if len(req.Paths) == 0 {
		writeError(w, http.StatusBadRequest, errors.New("no paths to add"))
		return
	}
	a, err := s.cfg.Assets.Add(r.Context(), req.Paths)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err)
		return
	}
	writeJSON(w, a)
}

func (s *Server) handleAssetsPin(w http.ResponseWriter, r *http.Request) {
	var req PinRequest
	if !decode(w, r, &req) {
		return
	}
	if err := s.cfg.Assets.Pin(req.CID, req.Pinned); err != nil {
		writeError(w, http.StatusUnprocessableEntity, err)
		return
	}
	writeJSON(w, struct{}{})
}

// handleAssetsGet streams progress events while fetching, then the asset.
func (s *Server) handleAssetsGet(w http.ResponseWriter, r *http.Request) {
	var req GetAssetRequest
	if !decode(w, r, &req) {
		return
	}
	timeout := 10 * time.Minute
	if req.Timeout != "" {
		d, err := time.ParseDuration(req.Timeout)
		if err != nil || d <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("bad timeout %q", req.Timeout))
			return
		}
		timeout = d
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	ev := newEventWriter(w)
	a, err := s.cfg.Assets.Get(ctx, req.CID, func(p Progress) { ev.send(Event{Progress: &p}) })
	if err == nil && req.Out != "" {
		err = s.cfg.Assets.Export(a.CID, req.Out)
	}
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded && r.Context().Err() == nil {
			err = fmt.Errorf("gave up after %v: %w", timeout, err)
		}
		ev.final(Event{Error: err.Error()})
		return
	}
	ev.final(Event{Asset: &a})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("bad request body: %w", err))
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(errorBody{Error: err.Error()})
}
