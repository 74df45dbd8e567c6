package adversary

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	mh "github.com/multiformats/go-multihash"

	"github.com/renderswarm/renderswarm/assets"
	"github.com/renderswarm/renderswarm/job"
)

// resultWatch is a copier's source of other volunteers' results. Today a
// volunteer shares its result as an asset named after its task and
// provides it on the DHT before the publisher accepted it, and the
// publisher looks its providers up when the result is delivered. Both send
// a request naming the asset to the DHT servers nearest to it: in a small
// swarm, every server. resultWatch taps the DHT requests this peer's node
// serves, fetches every asset they name and indexes the results in them by
// file name (wire.go's resultName). Once results travel as bytes on the
// delivery stream and are shared only after acceptance, it finds nothing.
type resultWatch struct {
	store *assets.Store
	log   *slog.Logger
	slots chan struct{} // bounds concurrent fetches

	mu      sync.Mutex
	tried   map[cid.Cid]int
	found   map[string]string // result file name -> its path in the store
	changed chan struct{}     // closed and replaced when found grows
}

// Fetching one named asset: the bound, tries, and fetches at once.
const (
	watchFetchTimeout = 20 * time.Second
	watchTries        = 3
	watchFetches      = 4
)

// watchResults taps h's DHT protocol (the one ending in /kad/1.0.0).
func watchResults(h host.Host, store *assets.Store, log *slog.Logger) (*resultWatch, error) {
	w := &resultWatch{store: store, log: log, slots: make(chan struct{}, watchFetches),
		tried: map[cid.Cid]int{}, found: map[string]string{}, changed: make(chan struct{})}
	tapped := 0
	for _, proto := range h.Mux().Protocols() { // the WAN and the LAN DHT
		if strings.HasSuffix(string(proto), "/kad/1.0.0") {
			if err := tap(h, proto, w.seen); err != nil {
				return nil, err
			}
			tapped++
		}
	}
	if tapped == 0 {
		return nil, errors.New("adversary: the node serves no DHT protocol to tap")
	}
	return w, nil
}

// await returns the PNG of another replica's result of task t as soon as
// the watch has found it, or ctx's error.
func (w *resultWatch) await(ctx context.Context, t job.Task) ([]byte, error) {
	name := resultName(t)
	for {
		w.mu.Lock()
		path, ok := w.found[name]
		changed := w.changed
		w.mu.Unlock()
		if ok {
			return os.ReadFile(path)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-changed:
		}
	}
}

// seen is called with every key a DHT request names.
func (w *resultWatch) seen(key []byte) {
	dm, err := mh.Decode(key)
	if err != nil || dm.Code != mh.SHA1 || len(dm.Digest) != 20 {
		return // not an asset's key
	}
	c := job.AssetCID([20]byte(dm.Digest))
	w.mu.Lock()
	if w.tried[c] >= watchTries {
		w.mu.Unlock()
		return
	}
	w.tried[c]++
	w.mu.Unlock()
	go w.fetch(c)
}

func (w *resultWatch) fetch(c cid.Cid) {
	w.slots <- struct{}{}
	defer func() { <-w.slots }()
	ctx, cancel := context.WithTimeout(context.Background(), watchFetchTimeout)
	defer cancel()
	if _, err := w.store.Get(ctx, c, nil); err != nil {
		w.log.Debug("watchFetchFailed", "cid", c, "err", err)
		return
	}
	dir, err := w.store.Path(c)
	if err != nil {
		return
	}
	var names []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "frame_") && strings.HasSuffix(d.Name(), ".png") {
			w.mu.Lock()
			if _, ok := w.found[d.Name()]; !ok {
				w.found[d.Name()] = path
				names = append(names, d.Name())
			}
			w.mu.Unlock()
		}
		return nil
	})
	if len(names) == 0 {
		return
	}
	w.log.Info("resultFound", "cid", c, "files", names)
	w.mu.Lock()
	w.tried[c] = watchTries // nothing more to learn from it
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

// tap puts itself between h's handler of proto and the streams it serves,
// calling seen with the key of every request read. Requests are
// varint-delimited protobuf messages (kad-dht's pb.Message: field 1 the
// type, field 2 the key); ADD_PROVIDER (2) and GET_PROVIDERS (3) name
// provider keys, which are multihashes.
func tap(h host.Host, proto protocol.ID, seen func(key []byte)) error {
	// The registered handler is only reachable through negotiation: play
	// the dialer's half of multistream-select into the muxer.
	var hello bytes.Buffer
	for _, s := range []string{"/multistream/1.0.0", string(proto)} {
		hello.Write(binary.AppendUvarint(nil, uint64(len(s)+1)))
		hello.WriteString(s + "\n")
	}
	_, handler, err := h.Mux().Negotiate(&scripted{r: &hello})
	if err != nil {
		return fmt.Errorf("adversary: finding the %s handler: %w", proto, err)
	}
	h.SetStreamHandler(proto, func(s network.Stream) {
		handler(proto, &tapped{Stream: s, seen: seen})
	})
	return nil
}

// scripted is a stream that reads a script and swallows what is written.
type scripted struct{ r io.Reader }

func (s *scripted) Read(p []byte) (int, error)  { return s.r.Read(p) }
func (s *scripted) Write(p []byte) (int, error) { return len(p), nil }
func (s *scripted) Close() error                { return nil }

// tapped is a served stream whose inbound bytes are also parsed as DHT
// requests.
type tapped struct {
	network.Stream
	seen func(key []byte)
	buf  []byte
	lost bool // the bytes stopped making sense: stop parsing
}

func (t *tapped) Read(p []byte) (int, error) {
	n, err := t.Stream.Read(p)
	if n > 0 && !t.lost {
		t.buf, t.lost = parseRequests(append(t.buf, p[:n]...), t.seen)
	}
	return n, err
}

// maxTapped bounds what a tapped stream buffers for one request.
const maxTapped = 4 << 20

// parseRequests calls seen with the key of every complete provider
// request in buf and returns what is left of buf; lost reports bytes that
// are not a request stream.
func parseRequests(buf []byte, seen func(key []byte)) (rest []byte, lost bool) {
	for {
		size, n := binary.Uvarint(buf)
		switch {
		case n < 0 || size > maxTapped:
			return nil, true
		case n == 0 || uint64(len(buf)-n) < size:
			return buf, false
		}
		msg := buf[n : n+int(size)]
		if typ, key := requestKey(msg); (typ == 2 || typ == 3) && len(key) > 0 {
			seen(bytes.Clone(key))
		}
		buf = buf[n+int(size):]
	}
}

// requestKey reads fields 1 (varint) and 2 (bytes) of a protobuf message.
func requestKey(msg []byte) (typ uint64, key []byte) {
	for len(msg) > 0 {
		tag, n := binary.Uvarint(msg)
		if n <= 0 {
			return typ, key
		}
		msg = msg[n:]
		switch tag & 7 {
		case 0: // varint
			v, n := binary.Uvarint(msg)
			if n <= 0 {
				return typ, key
			}
			if tag>>3 == 1 {
				typ = v
			}
			msg = msg[n:]
		case 1: // fixed64
			if len(msg) < 8 {
				return typ, key
			}
			msg = msg[8:]
		case 2: // length-delimited
			l, n := binary.Uvarint(msg)
			if n <= 0 || uint64(len(msg)-n) < l {
				return typ, key
			}
			if tag>>3 == 2 {
				key = msg[n : n+int(l)]
			}
			msg = msg[n+int(l):]
		case 5: // fixed32
			if len(msg) < 4 {
				return typ, key
			}
			msg = msg[4:]
		default:
			return typ, key
		}
	}
	return typ, key
}

// resultName is the file name a task's result has once shared (the
// publisher shares accepted results under it).
func resultName(t job.Task) string {
	return fmt.Sprintf("frame_%04d_tile%02d.png", t.Frame, t.Tile)
}
