package node

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// Names of files and folders inside a home.
const (
	identityFile = "identity.key"
	configFile   = "config.toml"
	databaseFile = "renderswarm.db"
	assetsDir    = "assets"
	resultsDir   = "results" // delivered results waiting for their decision
	lockFile     = "lock"
)

// ResolveHome picks the home directory: the flag, else $RENDERSWARM_HOME
// (kong fills the flag from it), else the user's data directory
// (DefaultHome).
func ResolveHome(flag string) (string, error) {
	if flag != "" {
		return filepath.Abs(flag)
	}
	h, err := os.UserHomeDir()
	if err != nil && runtime.GOOS != "windows" {
		return "", fmt.Errorf("finding a home directory: %w (pass --home)", err)
	}
	return DefaultHome(runtime.GOOS, os.Getenv, h)
}

// DefaultHome is where a node keeps its home on goos when neither --home
// nor $RENDERSWARM_HOME names one, given the environment and the user's
// home directory: the per-user data directory each system documents,
// never a roaming or synced one (the asset store holds gigabytes).
//
//	linux and other Unix  $XDG_DATA_HOME/renderswarm, else ~/.local/share/renderswarm
//	darwin                ~/Library/Application Support/renderswarm
//	windows               %LOCALAPPDATA%\renderswarm
func DefaultHome(goos string, getenv func(string) string, userHome string) (string, error) {
	switch goos {
	case "windows":
		if d := getenv("LOCALAPPDATA"); d != "" {
			return filepath.Join(d, "renderswarm"), nil
		}
		if userHome != "" {
			return filepath.Join(userHome, "AppData", "Local", "renderswarm"), nil
		}
		return "", errors.New("finding a home directory: %LOCALAPPDATA% is not set (pass --home)")
	case "darwin", "ios":
		if userHome == "" {
			return "", errors.New("finding a home directory: $HOME is not set (pass --home)")
		}
		return filepath.Join(userHome, "Library", "Application Support", "renderswarm"), nil
	}
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "renderswarm"), nil
	}
	if userHome == "" {
		return "", errors.New("finding a home directory: $HOME is not set (pass --home)")
	}
	return filepath.Join(userHome, ".local", "share", "renderswarm"), nil
}

// ErrHomeInUse means another node runs on the same home.
var ErrHomeInUse = errors.New("home already in use by a running node")

// homeLock holds the home's exclusive lock for the node's lifetime.
type homeLock struct{ f *os.File }

// lockHome creates home (private to the user) and takes its lock, which the
// kernel releases if the process dies, so a crash never leaves it stuck
// (flock(2) on Unix, LockFileEx on Windows: lock_*.go).
func lockHome(home string) (*homeLock, error) {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("creating home %s: %w", home, err)
	}
	f, err := os.OpenFile(filepath.Join(home, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock in %s: %w", home, err)
	}
	if err := lockExclusive(f); err != nil {
		b, _ := os.ReadFile(f.Name())
		f.Close()
		pid := strings.TrimSpace(string(b))
		if pid != "" {
			return nil, fmt.Errorf("%w: %s (pid %s)", ErrHomeInUse, home, pid)
		}
		return nil, fmt.Errorf("%w: %s", ErrHomeInUse, home)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &homeLock{f: f}, nil
}

func (l *homeLock) release() {
	l.f.Truncate(0)
	unlockFile(l.f)
	l.f.Close()
}

// loadIdentity reads the node's Ed25519 key, creating it on first start.
func loadIdentity(home string) (crypto.PrivKey, error) {
	path := filepath.Join(home, identityFile)
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := crypto.UnmarshalPrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("reading identity %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading identity: %w", err)
	}
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating identity: %w", err)
	}
	b, err = crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, fmt.Errorf("writing identity: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("writing identity: %w", err)
	}
	return k, nil
}

// newToken returns a fresh random API token.
func newToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}
