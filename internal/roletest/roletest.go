// Package roletest has the fakes and helpers that the tests of the
// publisher and volunteer roles share: asset stores that exchange content
// through an in-memory swarm instead of torrents, identities, a real
// ledger on a temporary database, a recording log handler, and renderer
// wrappers. It is for tests only.
package roletest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"database/sql"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/assets"
	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/db"
	"github.com/renderswarm/renderswarm/internal/fsutil"
	"github.com/renderswarm/renderswarm/job"
)

// Identity returns a fresh Ed25519 key and its peer ID.
func Identity(t testing.TB) (crypto.PrivKey, peer.ID) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, id
}

// Ledger opens a real ledger for self on a fresh database, closed at the
// end of the test, and returns it with the database.
func Ledger(t testing.TB, self peer.ID) (*credits.Ledger, *sql.DB) {
	t.Helper()
	return LedgerIn(t, t.TempDir(), self)
}

// LedgerIn is Ledger with the database in dir.
func LedgerIn(t testing.TB, dir string, self peer.ID) (*credits.Ledger, *sql.DB) {
	t.Helper()
	d, err := db.Open(filepath.Join(dir, "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	l, err := credits.NewLedger(d, self)
	if err != nil {
		t.Fatal(err)
	}
	return l, d
}

// Swarm holds the content that fake stores share, as the DHT and torrents
// would between real ones.
type Swarm struct {
	root string

	mu      sync.Mutex
	content map[cid.Cid]string // asset -> its files' root
	added   chan struct{}      // closed and replaced when content is added
}

// NewSwarm returns an empty swarm whose files live in a test directory.
func NewSwarm(t testing.TB) *Swarm {
	return &Swarm{root: t.TempDir(), content: map[cid.Cid]string{}, added: make(chan struct{})}
}

// Store is one node's asset store in a Swarm.
type Store struct {
	swarm *Swarm

	mu   sync.Mutex
	have map[cid.Cid]bool
	gets int
}

// Store returns a new empty store of the swarm.
func (s *Swarm) Store() *Store { return &Store{swarm: s, have: map[cid.Cid]bool{}} }

// AddLater is Add: the fake swarm has no announcements to put off.
func (st *Store) AddLater(ctx context.Context, paths []string) (assets.Info, error) {
	return st.Add(ctx, paths)
}

// Add stores files and directories as one asset, like assets.Store.Add: a
// single directory becomes the asset root; otherwise each path appears
// under its base name. Its CID is a hash of the names and contents.
func (st *Store) Add(_ context.Context, paths []string) (assets.Info, error) {
	if len(paths) == 0 {
		return assets.Info{}, errors.New("no paths")
	}
	var entries []entry
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return assets.Info{}, err
		}
		if !fi.IsDir() {
			entries = append(entries, entry{filepath.Base(p), p})
			continue
		}
		prefix := ""
		if len(paths) > 1 {
			prefix = filepath.Base(p)
		}
		tree, err := walk(p, prefix)
		if err != nil {
			return assets.Info{}, err
		}
		entries = append(entries, tree...)
	}
	c, size, err := identify(entries)
	if err != nil {
		return assets.Info{}, err
	}
	dir := filepath.Join(st.swarm.root, c.String())
	st.swarm.mu.Lock()
	_, exists := st.swarm.content[c]
	st.swarm.mu.Unlock()
	if !exists {
		for _, e := range entries {
			if err := fsutil.CopyFile(e.src, filepath.Join(dir, e.rel)); err != nil {
				return assets.Info{}, err
			}
		}
		st.swarm.mu.Lock()
		st.swarm.content[c] = dir
		close(st.swarm.added)
		st.swarm.added = make(chan struct{})
		st.swarm.mu.Unlock()
	}
	st.mu.Lock()
	st.have[c] = true
	st.mu.Unlock()
	return assets.Info{CID: c, Size: size, Files: len(entries), Pinned: true, Complete: true}, nil
}

// Identify is the CID Add would give the files under root.
func (st *Store) Identify(root, _ string) (cid.Cid, error) {
	entries, err := walk(root, "")
	if err != nil {
		return cid.Undef, err
	}
	c, _, err := identify(entries)
	return c, err
}

// IdentifyFile is Identify of a folder holding only the file name, with
// contents data.
func (st *Store) IdentifyFile(name string, data []byte) (cid.Cid, error) {
	h := sha1.New()
	hashEntry(h, name, bytes.NewReader(data))
	return cidOf(h), nil
}

type entry struct{ rel, src string }

// walk lists the files under root, named relative to it under prefix.
func walk(root, prefix string) ([]entry, error) {
	var out []entry
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		out = append(out, entry{filepath.Join(prefix, rel), path})
		return nil
	})
	return out, err
}

// identify hashes entries' names and contents into an asset CID.
func identify(entries []entry) (cid.Cid, int64, error) {
	sort.Slice(entries, func(i, j int) bool { return entries[i].rel < entries[j].rel })
	h := sha1.New()
	var size int64
	for _, e := range entries {
		f, err := os.Open(e.src)
		if err != nil {
			return cid.Undef, 0, err
		}
		n, err := hashEntry(h, e.rel, f)
		f.Close()
		if err != nil {
			return cid.Undef, 0, err
		}
		size += n
	}
	return cidOf(h), size, nil
}

// hashEntry adds one file, its name then its contents, to h.
func hashEntry(h hash.Hash, name string, r io.Reader) (int64, error) {
	fmt.Fprintf(h, "%s\x00", name)
	return io.Copy(h, r)
}

// cidOf is the asset CID of what h hashed.
func cidOf(h hash.Hash) cid.Cid {
	var ih [20]byte
	copy(ih[:], h.Sum(nil))
	return job.AssetCID(ih)
}

// Get "downloads" an asset: it waits until some store of the swarm has
// added it, or ctx ends.
func (st *Store) Get(ctx context.Context, c cid.Cid, _ func(assets.Progress)) (assets.Info, error) {
	st.mu.Lock()
	st.gets++
	st.mu.Unlock()
	for {
		st.swarm.mu.Lock()
		_, ok := st.swarm.content[c]
		added := st.swarm.added
		st.swarm.mu.Unlock()
		if ok {
			st.mu.Lock()
			st.have[c] = true
			st.mu.Unlock()
			return assets.Info{CID: c, Complete: true}, nil
		}
		select {
		case <-ctx.Done():
			return assets.Info{}, fmt.Errorf("fetching %s: %w", c, ctx.Err())
		case <-added:
		}
	}
}

// Gets counts the Get calls made.
func (st *Store) Gets() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.gets
}

// Path is the root of an asset this store has.
func (st *Store) Path(c cid.Cid) (string, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.have[c] {
		return "", fmt.Errorf("asset %s: %w", c, assets.ErrNotFound)
	}
	return filepath.Join(st.swarm.root, c.String()), nil
}

// Hold keeps an asset this store has (the fake never collects anything).
func (st *Store) Hold(c cid.Cid) (func(), error) {
	if _, err := st.Path(c); err != nil {
		return nil, err
	}
	return func() {}, nil
}

// Log records what a component logs, for tests that count events.
type Log struct {
	mu      sync.Mutex
	records []Record
}

// Record is one logged message and its attributes as text.
type Record struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

// Logger returns a logger writing into l.
func (l *Log) Logger() *slog.Logger { return slog.New(&logHandler{l: l}) }

// Count returns how many records have msg and, for every key=value in
// where, that attribute.
func (l *Log) Count(msg string, where ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
outer:
	for _, r := range l.records {
		if r.Msg != msg {
			continue
		}
		for _, kv := range where {
			k, v, _ := strings.Cut(kv, "=")
			if r.Attrs[k] != v {
				continue outer
			}
		}
		n++
	}
	return n
}

// Messages lists the messages logged at level or above, oldest first.
func (l *Log) Messages(level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		if r.Level >= level {
			out = append(out, r.Msg)
		}
	}
	return out
}

type logHandler struct {
	l     *Log
	attrs []slog.Attr
}

func (h *logHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	rec := Record{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.String()
		return true
	})
	h.l.mu.Lock()
	h.l.records = append(h.l.records, rec)
	h.l.mu.Unlock()
	return nil
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &logHandler{l: h.l, attrs: append(append([]slog.Attr{}, h.attrs...), as...)}
}

func (h *logHandler) WithGroup(string) slog.Handler { return h }

// Body is a delivered result held in memory; Opened says whether the
// publisher asked for it.
type Body struct {
	Data   []byte
	Opened bool
}

// Size is the body's length.
func (b *Body) Size() int64 { return int64(len(b.Data)) }

// Open hands the body over.
func (b *Body) Open() (io.Reader, error) {
	b.Opened = true
	return bytes.NewReader(b.Data), nil
}
