package gui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"time"
)

// Snapshot is the node's state as the event stream sends it: everything
// the web app shows that changes by itself.
type Snapshot struct {
	ID       ID          `json:"id"`
	Network  Network     `json:"network"`
	Peers    []Peer      `json:"peers"`
	Activity Activity    `json:"activity"`
	Jobs     []JobStatus `json:"jobs"`
	Balance  Balance     `json:"balance"`
	CPUs     int         `json:"cpus"` // cores of this machine: the most Settings.CPUs may be
}

const (
	// maxStreams bounds the event streams served at once (a few tabs).
	maxStreams = 16
	// keepaliveInterval is how often a quiet stream gets a comment, so
	// that proxies and the browser keep it open.
	keepaliveInterval = 15 * time.Second
	// streamWriteTimeout drops a client that stops reading.
	streamWriteTimeout = 10 * time.Second
)

func (s *Server) snapshot() Snapshot {
	snap := Snapshot{
		ID:       s.cfg.Node.ID(),
		Network:  s.cfg.Node.Network(),
		Peers:    s.cfg.Node.Peers(),
		Activity: s.activity(),
		Jobs:     s.cfg.Jobs.List(),
		CPUs:     runtime.NumCPU(),
	}
	if snap.Peers == nil {
		snap.Peers = []Peer{}
	}
	if snap.Jobs == nil {
		snap.Jobs = []JobStatus{}
	}
	if b, err := s.cfg.Credits.Balance(); err == nil {
		snap.Balance = b
	}
	return snap
}

// shutdown is closed when the http.Server serving r shuts down: its
// Shutdown waits for the open requests, and a stream would not end by
// itself.
func (s *Server) shutdown(r *http.Request) <-chan struct{} {
	hs, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.down[hs]
	if !ok {
		ch = make(chan struct{})
		s.down[hs] = ch
		hs.RegisterOnShutdown(func() { close(ch) })
	}
	return ch
}

// handleEvents is a server-sent event stream: an `event: state` with the
// Snapshot whenever it changed (looked at every s.tick), and a comment when
// nothing did for a while. It ends with the request, or when the server
// shuts down.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		writeError(w, http.StatusServiceUnavailable, errors.New("too many event streams open"))
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	send := func(msg []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := w.Write(msg); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send([]byte("retry: 2000\n\n")) {
		return
	}
	down := s.shutdown(r)
	tick := time.NewTicker(s.tick)
	defer tick.Stop()
	keepalive := time.NewTicker(keepaliveInterval)
	defer keepalive.Stop()
	var last []byte
	for {
		b, err := json.Marshal(s.snapshot())
		if err != nil {
			s.cfg.Logger.Error("stateNotEncoded", "err", err)
			return
		}
		if !bytes.Equal(b, last) {
			if !send(fmt.Appendf(nil, "event: state\ndata: %s\n\n", b)) {
				return
			}
			last = b
			keepalive.Reset(keepaliveInterval)
		}
		select {
		case <-r.Context().Done():
			return
		case <-down:
			return
		case <-tick.C:
		case <-keepalive.C:
			if !send([]byte(": keepalive\n\n")) {
				return
			}
		}
	}
}
