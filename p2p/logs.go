package p2p

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	golog "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p/gologshim"
	"go.uber.org/zap/zapcore"
)

// libp2p's own logs — go-libp2p (slog through gologshim), kad-dht (go-log's
// zap core) and GossipSub (a logger option) — go to the node's slog
// handler, tagged logger=<subsystem>, errors only, as go-log itself
// defaults: their warnings (a lone node has no peer to announce a topic
// to) and chatter are for libp2p's developers. go-libp2p's and go-log's
// handlers are process-wide; with several nodes in one process (the demo)
// they reach the node started last.
var libp2pLogs struct {
	once    sync.Once
	handler atomic.Pointer[slog.Handler]
}

// libp2pLevel is the least level of libp2p's logs that reaches the node's.
const libp2pLevel = slog.LevelError

// routeLibp2pLogs sends libp2p's logs to h from now on.
func routeLibp2pLogs(h slog.Handler) {
	libp2pLogs.handler.Store(&h)
	libp2pLogs.once.Do(func() {
		gologshim.SetDefaultHandler(libp2pHandler{})
		golog.SetPrimaryCore(zapCore{})
	})
}

// currentHandler is the handler libp2p's logs go to.
func currentHandler() slog.Handler {
	if h := libp2pLogs.handler.Load(); h != nil {
		return *h
	}
	return slog.Default().Handler()
}

// libp2pHandler forwards to the current node's handler, from libp2pLevel
// up, or from the level GOLOG_LOG_LEVEL (go-log's own variable, e.g.
// "error,relay=debug") sets for the logging subsystem.
type libp2pHandler struct {
	attrs []slog.Attr
	level *slog.Level // from GOLOG_LOG_LEVEL; nil: libp2pLevel
}

func (h libp2pHandler) Enabled(ctx context.Context, l slog.Level) bool {
	least := libp2pLevel
	if h.level != nil {
		least = *h.level
	}
	return l >= least && currentHandler().Enabled(ctx, l)
}

func (h libp2pHandler) Handle(ctx context.Context, r slog.Record) error {
	next := currentHandler()
	if len(h.attrs) > 0 {
		next = next.WithAttrs(h.attrs)
	}
	return next.Handle(ctx, r)
}

func (h libp2pHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := libp2pHandler{attrs: append(append([]slog.Attr{}, h.attrs...), as...), level: h.level}
	if os.Getenv("GOLOG_LOG_LEVEL") != "" {
		for _, a := range as {
			if a.Key == "logger" {
				l := gologshim.ConfigFromEnv().LevelForSystem(a.Value.String())
				out.level = &l
			}
		}
	}
	return out
}

func (h libp2pHandler) WithGroup(string) slog.Handler { return h }

// zapCore is go-log's output (kad-dht logs through it), turned into slog
// records for the current handler.
type zapCore struct{ fields []zapcore.Field }

var _ zapcore.Core = zapCore{}

func (c zapCore) Enabled(l zapcore.Level) bool {
	return libp2pHandler{}.Enabled(context.Background(), slogLevel(l))
}

func (c zapCore) With(fields []zapcore.Field) zapcore.Core {
	return zapCore{fields: append(append([]zapcore.Field{}, c.fields...), fields...)}
}

func (c zapCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c zapCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range append(append([]zapcore.Field{}, c.fields...), fields...) {
		f.AddTo(enc)
	}
	r := slog.NewRecord(e.Time, slogLevel(e.Level), e.Message, 0)
	r.AddAttrs(slog.String("logger", e.LoggerName))
	for k, v := range enc.Fields {
		r.AddAttrs(slog.Any(k, v))
	}
	return libp2pHandler{}.Handle(context.Background(), r)
}

func (c zapCore) Sync() error { return nil }

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	}
	return slog.LevelError
}
