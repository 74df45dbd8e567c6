package p2p

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	golog "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p/gologshim"
)

// recorder keeps the messages and subsystems it is handed.
type recorder struct {
	mu   sync.Mutex
	msgs map[string]string // message -> logger attribute
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	logger := ""
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "logger" {
			logger = a.Value.String()
		}
		return true
	})
	r.msgs[rec.Message] = logger
	return nil
}
func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &withAttrs{r: r, attrs: as}
}
func (r *recorder) WithGroup(string) slog.Handler { return r }

type withAttrs struct {
	r     *recorder
	attrs []slog.Attr
}

func (w *withAttrs) Enabled(ctx context.Context, l slog.Level) bool { return w.r.Enabled(ctx, l) }
func (w *withAttrs) Handle(ctx context.Context, rec slog.Record) error {
	rec.AddAttrs(w.attrs...)
	return w.r.Handle(ctx, rec)
}
func (w *withAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	return &withAttrs{r: w.r, attrs: append(append([]slog.Attr{}, w.attrs...), as...)}
}
func (w *withAttrs) WithGroup(string) slog.Handler { return w }

// go-libp2p's and kad-dht's errors reach the node's handler, named by
// subsystem; their chatter does not.
func TestLibp2pLogsReachTheNodesHandler(t *testing.T) {
	rec := &recorder{msgs: map[string]string{}}
	n, err := New(Config{Identity: TestingConfig(t).Identity, ListenAddrs: TestingConfig(t).ListenAddrs, Logger: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	gologshim.Logger("rstest-shim").Error("shim warning")
	gologshim.Logger("rstest-shim").Warn("shim chatter")
	golog.Logger("rstest-zap").Error("zap error")
	golog.Logger("rstest-zap").Info("zap chatter")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.msgs["shim warning"] != "rstest-shim" || rec.msgs["zap error"] != "rstest-zap" {
		t.Fatalf("libp2p logs seen: %v; want the warning and the error with their subsystems", rec.msgs)
	}
	if _, ok := rec.msgs["shim chatter"]; ok {
		t.Fatal("libp2p's debug output reached the node's log")
	}
	if _, ok := rec.msgs["zap chatter"]; ok {
		t.Fatal("kad-dht's info output reached the node's log")
	}
}
