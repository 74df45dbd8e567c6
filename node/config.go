package node

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"

	"github.com/BurntSushi/toml"

	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/scheduler"
)

// Config is a node's configuration: config.toml in its home, overridden by
// command-line flags. Zero values mean the documented defaults.
type Config struct {
	Home string `toml:"-"`
	// Listen multiaddrs; empty: TCP and QUIC on port 27491, all interfaces.
	Listen []string `toml:"listen"`
	// Bootstrap multiaddrs, each ending in /p2p/<peer ID>.
	Bootstrap []string `toml:"bootstrap"`
	// NoMDNS turns LAN discovery off.
	NoMDNS bool `toml:"no_mdns"`
	// GUI is the API and web app address, loopback only; empty:
	// 127.0.0.1:27492. Port 0 picks a free port.
	GUI string `toml:"gui"`
	// NoVolunteer: render nothing for others.
	NoVolunteer bool `toml:"no_volunteer"`
	// CPUs for rendering others' frames; 0: all.
	CPUs int `toml:"cpus"`
	// MaxUploadRate caps asset upload, e.g. "8MiB"; empty or 0: unlimited.
	MaxUploadRate string `toml:"max_upload_rate"`
	// CacheQuota bounds unpinned cached assets, e.g. "10GiB"; empty: 10 GiB.
	CacheQuota string `toml:"cache_quota"`
	// SwarmKey is a libp2p pre-shared key file making a private swarm.
	SwarmKey string `toml:"swarm_key"`
	// BTListen (HOST:PORT) serves stored assets to plain BitTorrent clients
	// over TCP; empty: off.
	BTListen string `toml:"bt_listen"`
	// BlockPublishers and BlockJobs: peer IDs and job IDs whose work this
	// node never renders.
	BlockPublishers []string `toml:"block_publishers"`
	BlockJobs       []string `toml:"block_jobs"`
	// AllowUnsandboxed: render strangers' Blender and POV-Ray scenes even
	// where their sandbox does not work (their scenes can then read and
	// write this user's files). Off by default.
	AllowUnsandboxed bool `toml:"allow_unsandboxed"`
	// MaxMemory caps the memory of a render for others below its job's
	// limit, e.g. "4GiB"; empty: 4 GiB.
	MaxMemory string `toml:"max_memory"`

	// Flags names the volunteer settings given on the command line
	// ("cpus", "max_upload_rate", "cache_quota", "allow_unsandboxed",
	// "max_memory"): they win over settings saved from the web app, which
	// otherwise win over config.toml.
	Flags []string `toml:"-"`

	Logger *slog.Logger `toml:"-"`

	// For tests and benchmarks of the grid in this package: a wrapper
	// around every backend the volunteer renders with (a dishonest, stuck
	// or crashing renderer), one around every backend the publisher renders
	// its calibration and crop checks with (a failing one) — the speed
	// benchmark uses the real one — and an adjustment of every coordinator
	// the publisher makes.
	volunteerRenderer func(render.Backend) render.Backend
	publisherRenderer func(render.Backend) render.Backend
	tune              func(*scheduler.Config)
}

// DefaultGUI is the API address when none is configured.
const DefaultGUI = "127.0.0.1:27492"

// LoadConfigFile reads home's config.toml; a missing file is no error.
// Unknown keys are errors, so a typo is not silently ignored.
func LoadConfigFile(home string) (Config, error) {
	var c Config
	path := filepath.Join(home, configFile)
	md, err := toml.DecodeFile(path, &c)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("reading %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return Config{}, fmt.Errorf("reading %s: unknown setting %q", path, und[0].String())
	}
	return c, nil
}

// ParseSize parses a byte count with an optional unit: 800KiB, 8MiB, 1.5MB,
// 1G, 4096. Empty means 0.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	i := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad size %q (want e.g. 800KiB, 8MiB, 1.5MB)", s)
	}
	mult, ok := map[string]float64{
		"": 1, "b": 1, "B": 1,
		"k": 1e3, "kb": 1e3, "KB": 1e3, "K": 1e3,
		"m": 1e6, "mb": 1e6, "MB": 1e6, "M": 1e6,
		"g": 1e9, "gb": 1e9, "GB": 1e9, "G": 1e9,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
		"TB": 1e12, "T": 1e12,
	}[unit]
	if !ok {
		return 0, fmt.Errorf("bad size %q: unknown unit %q", s, unit)
	}
	if v*mult > 1<<62 {
		return 0, fmt.Errorf("bad size %q: too large", s)
	}
	return int64(v * mult), nil
}

// writeDefaultConfig leaves a commented config.toml in a new home.
func writeDefaultConfig(home string) error {
	path := filepath.Join(home, configFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	return os.WriteFile(path, []byte(defaultConfigText), 0o600)
}

const defaultConfigText = `# renderswarm node settings. Command-line flags override these.
# listen = ["/ip4/0.0.0.0/tcp/27491", "/ip4/0.0.0.0/udp/27491/quic-v1"]
# bootstrap = ["/ip4/203.0.113.7/tcp/27491/p2p/12D3Koo..."]
# no_mdns = false
# gui = "127.0.0.1:27492"
# no_volunteer = false
# cpus = 0                 # 0: all cores
# max_upload_rate = "8MiB" # empty or 0: unlimited
# cache_quota = "10GiB"
# swarm_key = "swarm.key"  # private swarm (libp2p pre-shared key file)
# bt_listen = "0.0.0.0:6881"  # serve assets to plain BitTorrent clients (TCP; off by default)
# block_publishers = ["12D3Koo..."]  # never render these publishers' jobs
# block_jobs = ["bagaaiera..."]
# max_memory = "4GiB"      # memory of one render for others (at most the job's)
# Render strangers' Blender and POV-Ray scenes even without a working
# sandbox (bubblewrap). Their scenes could then read and write your files.
# allow_unsandboxed = false
`
