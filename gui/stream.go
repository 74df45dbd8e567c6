package gui

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// eventWriter streams newline-delimited JSON events, at most a few progress
// lines a second; the final event is always written.
type eventWriter struct {
	mu   sync.Mutex
	w    http.ResponseWriter
	enc  *json.Encoder
	last time.Time
}

const progressInterval = 200 * time.Millisecond

func newEventWriter(w http.ResponseWriter) *eventWriter {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	return &eventWriter{w: w, enc: json.NewEncoder(w)}
}

func (e *eventWriter) send(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if time.Since(e.last) < progressInterval {
		return
	}
	e.last = time.Now()
	e.write(ev)
}

func (e *eventWriter) final(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.write(ev)
}

func (e *eventWriter) write(ev Event) {
	e.enc.Encode(ev)
	if f, ok := e.w.(http.Flusher); ok {
		f.Flush()
	}
}
