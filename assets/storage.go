package assets

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	g "github.com/anacrolix/generics"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"
)

// fileStorage is anacrolix file storage rooted at dir, with our layout (a
// file lives at dir/relPath) and no part files.
func fileStorage(dir string, pc storage.PieceCompletion, log *slog.Logger) storage.ClientImplCloser {
	return storage.NewFileOpts(storage.NewFileClientOpts{
		ClientBaseDir: dir,
		FilePathMaker: func(o storage.FilePathMakerOpts) string { return relPath(o.Info, o.File) },
		// TorrentDirMaker nil: the torrent's dir is ClientBaseDir itself.
		PieceCompletion: pc,
		UsePartFiles:    g.Some(false),
		Logger:          log,
	})
}

// completeStorage serves an asset that was verified when it entered the
// store: every piece is complete, from the index, never inferred from file
// sizes. A piece anacrolix finds broken (a missing file) is remembered as
// incomplete.
func completeStorage(dir string, log *slog.Logger) storage.ClientImplCloser {
	return fileStorage(dir, &verifiedCompletion{broken: make(map[metainfo.PieceKey]bool)}, log)
}

type verifiedCompletion struct {
	mu     sync.Mutex
	broken map[metainfo.PieceKey]bool
}

func (v *verifiedCompletion) Get(k metainfo.PieceKey) (storage.Completion, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return storage.Completion{Ok: true, Complete: !v.broken[k]}, nil
}

func (v *verifiedCompletion) Set(k metainfo.PieceKey, complete bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if complete {
		delete(v.broken, k)
	} else {
		v.broken[k] = true
	}
	return nil
}

func (*verifiedCompletion) Close() error { return nil }

// stagingStorage stores a download under dir. Completion starts empty and in
// memory, so every piece is hashed as it arrives. The info dictionary a peer
// sent is validated before the file storage sees it; a rejection is reported
// to reject and the torrent gets no storage, so nothing is written.
type stagingStorage struct {
	inner  storage.ClientImplCloser
	reject func(error)
}

func newStagingStorage(dir string, log *slog.Logger, reject func(error)) *stagingStorage {
	return &stagingStorage{inner: fileStorage(dir, storage.NewMapPieceCompletion(), log), reject: reject}
}

func (s *stagingStorage) OpenTorrent(ctx context.Context, info *metainfo.Info, ih metainfo.Hash) (storage.TorrentImpl, error) {
	if err := validateInfo(info); err != nil {
		s.reject(err)
		return storage.TorrentImpl{}, err
	}
	return s.inner.OpenTorrent(ctx, info, ih)
}

func (s *stagingStorage) Close() error { return s.inner.Close() }

// noDefaultStorage is the client's default storage. Every torrent the store
// adds names its own, so this only refuses.
type noDefaultStorage struct{}

func (noDefaultStorage) OpenTorrent(context.Context, *metainfo.Info, metainfo.Hash) (storage.TorrentImpl, error) {
	return storage.TorrentImpl{}, errors.New("assets: torrent added without storage")
}

func (noDefaultStorage) Close() error { return nil }

// makeReadOnly makes a stored asset immutable: files 0444, directories 0555.
func makeReadOnly(root string) error {
	return chmodTree(root, 0o444, 0o555)
}

// removeTree deletes a (possibly read-only) stored tree.
func removeTree(root string) error {
	if _, err := os.Lstat(root); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	// Directories need write permission for their entries to be removed;
	// files keep their mode (a listing's files are links to units' files).
	if err := chmodTree(root, 0, 0o755); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.RemoveAll(root)
}

// chmodTree sets the modes of a tree; filePerm 0 leaves files alone.
func chmodTree(root string, filePerm, dirPerm fs.FileMode) error {
	// Make directories traversable first (top-down walk needs to read them),
	// and apply directory modes after their contents (bottom-up).
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.Chmod(p, 0o755); err != nil {
				return err
			}
			dirs = append(dirs, p)
		case d.Type().IsRegular() && filePerm != 0:
			return os.Chmod(p, filePerm)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i], dirPerm); err != nil {
			return err
		}
	}
	return nil
}
