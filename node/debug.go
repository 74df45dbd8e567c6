package node

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"time"

	"github.com/renderswarm/renderswarm/internal/phase"
)

// DebugEnv names the address a node serves its profiles and phase timings
// on, for measuring it (bench/throughput) and for profiling a node that
// misbehaves: Go's pprof under /debug/pprof/ and the work protocol's
// phases (internal/phase) as JSON at /debug/phases (DELETE resets them).
// It listens only when set, and only on loopback.
const DebugEnv = "RENDERSWARM_DEBUG_ADDR"

// serveDebug serves the debug endpoints until ctx ends, if DebugEnv is set.
func (n *node) serveDebug(ctx context.Context) {
	addr := os.Getenv(DebugEnv)
	if addr == "" {
		return
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		n.log.Warn("debugNotServed", "addr", addr, "reason", "a loopback HOST:PORT is required")
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		n.log.Warn("debugNotServed", "addr", addr, "err", err)
		return
	}
	runtime.SetBlockProfileRate(int(time.Millisecond))
	runtime.SetMutexProfileFraction(100)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/phases", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(phase.Default.Snapshot())
	})
	mux.HandleFunc("DELETE /debug/phases", func(w http.ResponseWriter, _ *http.Request) {
		phase.Default.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	n.log.Info("debugServing", "addr", ln.Addr().String())
}
