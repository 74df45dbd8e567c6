package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/renderswarm/renderswarm/node"
)

type nodeCmd struct {
	Listen        []string `help:"Multiaddr to listen on (repeatable). Default: TCP and QUIC on port 27491." placeholder:"MA"`
	Bootstrap     []string `help:"Peer to join through, as /ip4/…/tcp/…/p2p/<peer ID> (repeatable)." placeholder:"MA"`
	NoMDNS        bool     `name:"no-mdns" help:"Do not discover peers on the local network."`
	GUI           string   `name:"gui" help:"Loopback address of the web app and API (port 0 picks one). Default 127.0.0.1:27492." placeholder:"HOST:PORT"`
	NoVolunteer   bool     `help:"Render nothing for others."`
	CPUs          int      `name:"cpus" help:"CPU cores to render others' frames with (0: all)." placeholder:"N"`
	MaxUploadRate string   `help:"Cap on asset upload, e.g. 800KiB, 8MiB (0: unlimited)." placeholder:"RATE"`
	CacheQuota    string   `help:"Space for cached (unpinned) assets, e.g. 10GiB." placeholder:"SIZE"`
	SwarmKey      string   `help:"Pre-shared key file of a private swarm." type:"existingfile" placeholder:"FILE"`
	MaxMemory     string   `help:"Memory one render for others may use, at most the job's limit, e.g. 4GiB (the default)." placeholder:"SIZE"`
	BTListen      string   `name:"bt-listen" help:"Also serve stored assets to plain BitTorrent clients on this TCP address (off by default; no public DHT or trackers)." placeholder:"HOST:PORT"`
	LogLevel      string   `help:"debug, info, warn or error." default:"info" enum:"debug,info,warn,error"`
	LogFile       string   `help:"Append the log to FILE instead of writing it to stderr (a node started at login on macOS and Windows logs to its home's node.log)." type:"path" placeholder:"FILE"`

	// AllowUnsandboxed is the one switch that lets a stranger's scene read
	// and write this user's files: off unless given.
	AllowUnsandboxed bool `name:"allow-unsandboxed" help:"Render strangers' Blender and POV-Ray scenes even where their sandbox (bubblewrap) does not work. Their scenes can then read and write your files."`
}

func (c *nodeCmd) Run(ctx context.Context, g *Globals) error {
	home, err := node.ResolveHome(g.Home)
	if err != nil {
		return err
	}
	cfg, err := node.LoadConfigFile(home)
	if err != nil {
		return err
	}
	cfg.Home = home
	c.override(&cfg)
	var level slog.Level
	level.UnmarshalText([]byte(c.LogLevel))
	var logTo io.Writer = os.Stderr
	if c.LogFile != "" {
		f, err := openLogFile(c.LogFile)
		if err != nil {
			return err
		}
		defer f.Close()
		logTo = f
		leaveOwnConsole()
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: level}))
	return node.Run(ctx, cfg, func(s node.Started) {
		fmt.Printf("peer ID: %s\n", s.PeerID)
		for _, a := range s.Addrs {
			fmt.Printf("listening: %s\n", a)
		}
		fmt.Printf("GUI: %s\n", s.GUI)
	})
}

// override applies the flags that were given over config.toml's values.
func (c *nodeCmd) override(cfg *node.Config) {
	if len(c.Listen) > 0 {
		cfg.Listen = c.Listen
	}
	if len(c.Bootstrap) > 0 {
		cfg.Bootstrap = c.Bootstrap
	}
	cfg.NoMDNS = cfg.NoMDNS || c.NoMDNS
	cfg.NoVolunteer = cfg.NoVolunteer || c.NoVolunteer
	set := func(dst *string, v string) {
		if strings.TrimSpace(v) != "" {
			*dst = v
		}
	}
	set(&cfg.GUI, c.GUI)
	set(&cfg.SwarmKey, c.SwarmKey)
	set(&cfg.BTListen, c.BTListen)
	// Volunteer settings given here also win over those saved from the
	// web app.
	if strings.TrimSpace(c.MaxUploadRate) != "" {
		cfg.MaxUploadRate = c.MaxUploadRate
		cfg.Flags = append(cfg.Flags, "max_upload_rate")
	}
	if strings.TrimSpace(c.CacheQuota) != "" {
		cfg.CacheQuota = c.CacheQuota
		cfg.Flags = append(cfg.Flags, "cache_quota")
	}
	if c.CPUs != 0 {
		cfg.CPUs = c.CPUs
		cfg.Flags = append(cfg.Flags, "cpus")
	}
	if strings.TrimSpace(c.MaxMemory) != "" {
		cfg.MaxMemory = c.MaxMemory
		cfg.Flags = append(cfg.Flags, "max_memory")
	}
	if c.AllowUnsandboxed {
		cfg.AllowUnsandboxed = true
		cfg.Flags = append(cfg.Flags, "allow_unsandboxed")
	}
}

// logKeep is how large a log file may grow across runs: a node that finds
// its log larger at start moves it to FILE.1 (replacing the one before).
const logKeep = 16 << 20

// openLogFile opens path for appending, private to the user, after moving
// a log past logKeep aside.
func openLogFile(path string) (*os.File, error) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > logKeep {
		os.Rename(path, path+".1")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the log's directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening log file: %w", err)
	}
	return f, nil
}
