package node

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/gui"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"": 0, "0": 0, "4096": 4096, "800KiB": 800 << 10, "8MiB": 8 << 20,
		"1.5MB": 1_500_000, "10GiB": 10 << 30, "2 MiB": 2 << 20,
	} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"fast", "8 parsecs", "-1MiB", "1e99GiB", "MiB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func TestConfigFile(t *testing.T) {
	home := t.TempDir()
	if c, err := LoadConfigFile(home); err != nil || c.GUI != "" {
		t.Fatalf("missing config.toml: %+v, %v", c, err)
	}
	os.WriteFile(filepath.Join(home, configFile), []byte(defaultConfigText+"gui = \"127.0.0.1:9\"\ncpus = 3\n"), 0o600)
	c, err := LoadConfigFile(home)
	if err != nil || c.GUI != "127.0.0.1:9" || c.CPUs != 3 {
		t.Fatalf("config = %+v, %v", c, err)
	}
	os.WriteFile(filepath.Join(home, configFile), []byte("max_uplaod_rate = \"8MiB\"\n"), 0o600)
	if _, err := LoadConfigFile(home); err == nil || !strings.Contains(err.Error(), "max_uplaod_rate") {
		t.Fatalf("a misspelt setting: err = %v, want it named", err)
	}
	os.WriteFile(filepath.Join(home, configFile), []byte("cpus = \n"), 0o600)
	if _, err := LoadConfigFile(home); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("a syntax error: err = %v, want the line named", err)
	}
}

func testConfig(home string) Config {
	return Config{
		Home:   home,
		Listen: []string{"/ip4/127.0.0.1/tcp/0"},
		NoMDNS: true,
		GUI:    "127.0.0.1:0",
	}
}

// startRun runs a node in-process and waits until it is up.
func startRun(t *testing.T, cfg Config) (Started, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	up := make(chan Started, 1)
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, func(s Started) { up <- s }) }()
	select {
	case s := <-up:
		return s, func() error { cancel(); return <-done }
	case err := <-done:
		cancel()
		t.Fatalf("node did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("node did not start in 30s")
	}
	return Started{}, nil
}

// A home keeps its identity across restarts, lets only one node run on it,
// and advertises the API only while the node runs.
func TestHomeIdentityLockAndAPIFile(t *testing.T) {
	home := t.TempDir()
	s1, stop := startRun(t, testConfig(home))
	if _, err := os.Stat(filepath.Join(home, gui.APIFile)); err != nil {
		t.Fatalf("api file missing while running: %v", err)
	}
	c, err := gui.Dial(context.Background(), home)
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.ID(context.Background())
	if err != nil || id.PeerID != s1.PeerID {
		t.Fatalf("API id = %+v, %v; want %s", id, err, s1.PeerID)
	}
	err = Run(context.Background(), testConfig(home), nil)
	if !errors.Is(err, ErrHomeInUse) {
		t.Fatalf("second node on the same home: err = %v, want ErrHomeInUse", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("clean shutdown: %v", err)
	}
	if _, err := os.Stat(filepath.Join(home, gui.APIFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("api file left after shutdown: %v", err)
	}
	for _, f := range []string{identityFile, gui.APIFile + ".tmp"} {
		if st, err := os.Stat(filepath.Join(home, f)); err == nil && st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is readable by others: %v", f, st.Mode())
		}
	}
	s2, stop := startRun(t, testConfig(home))
	defer stop()
	if s2.PeerID != s1.PeerID {
		t.Fatalf("peer ID changed across restart: %s then %s", s1.PeerID, s2.PeerID)
	}
}

func TestRunRejectsBadSettings(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"non-loopback GUI":  func(c *Config) { c.GUI = "0.0.0.0:0" },
		"bad listen":        func(c *Config) { c.Listen = []string{"tcp://nope"} },
		"bootstrap no ID":   func(c *Config) { c.Bootstrap = []string{"/ip4/127.0.0.1/tcp/1"} },
		"bad upload rate":   func(c *Config) { c.MaxUploadRate = "lots" },
		"missing swarm key": func(c *Config) { c.SwarmKey = "/nonexistent/swarm.key" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			mod(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := Run(ctx, cfg, nil); err == nil || ctx.Err() != nil {
				t.Fatalf("Run accepted it (err = %v)", err)
			}
		})
	}
}

// A studio's swarm key file in libp2p's standard format is read; a damaged
// one is refused with its name.
func TestSwarmKeyFile(t *testing.T) {
	home := t.TempDir()
	key := filepath.Join(home, "swarm.key")
	os.WriteFile(key, []byte("/key/swarm/psk/1.0.0/\n/base16/\n"+strings.Repeat("ab", 32)+"\n"), 0o600)
	cfg := testConfig(home)
	cfg.SwarmKey = key
	cfg.Logger = slog.Default()
	identity, err := loadIdentity(home)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := p2pConfig(cfg, identity)
	if err != nil || len(pc.SwarmKey) != 32 {
		t.Fatalf("p2pConfig = %d-byte key, %v; want the 32-byte key", len(pc.SwarmKey), err)
	}
	os.WriteFile(key, []byte("/key/swarm/psk/1.0.0/\n/base16/\nnot-hex\n"), 0o600)
	if _, err := p2pConfig(cfg, identity); err == nil || !strings.Contains(err.Error(), "swarm.key") {
		t.Fatalf("damaged key: err = %v, want one naming the file", err)
	}
}
