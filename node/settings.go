package node

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/internal/db"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/volunteer"
)

// migrations hold the node's own table: the settings saved from the web
// app (component "settings").
//
//go:embed migrations/*.sql
var migrations embed.FS

// migrateSettings creates or updates the node's own table.
func migrateSettings(ctx context.Context, d *sql.DB) error {
	return db.Migrate(ctx, d, "settings", migrations, "migrations")
}

// settingsBox holds the node's settings in effect, as the web app shows
// them.
type settingsBox struct {
	mu sync.Mutex
	s  gui.Settings
}

func newSettingsBox(s gui.Settings) *settingsBox { return &settingsBox{s: s} }

func (b *settingsBox) get() gui.Settings {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.s
}

func (b *settingsBox) set(s gui.Settings) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.s = s
}

// volunteerSettings are the volunteer's part of checked settings: the
// renderers offered are those chosen that the sandbox policy permits (all
// chosen when policy is nil).
func volunteerSettings(s gui.Settings, policy *sandboxPolicy) volunteer.Settings {
	pubs, jobs := blockLists(s)
	renderers := slices.Clone(s.Renderers)
	if policy != nil {
		renderers = policy.offered(s.Renderers)
	}
	vs := volunteer.Settings{
		CPUs: s.CPUs, Mode: volunteer.Always, IdleFor: time.Duration(s.IdleMinutes) * time.Minute,
		Paused: s.Paused, Renderers: renderers, BlockedPublishers: pubs, BlockedJobs: jobs,
	}
	switch s.Mode {
	case gui.ModeIdle:
		vs.Mode = volunteer.WhenIdle
	case gui.ModeSchedule:
		if from, to, err := gui.ParseSchedule(s.Schedule); err == nil {
			vs.Mode, vs.Window = volunteer.Scheduled, volunteer.Window{From: from, To: to}
		}
	}
	return vs
}

// settingsFromConfig are the volunteer settings config.toml and the flags
// give, before anything saved from the web app.
func settingsFromConfig(cfg Config) (gui.Settings, error) {
	rate, err := ParseSize(cfg.MaxUploadRate)
	if err != nil {
		return gui.Settings{}, fmt.Errorf("max_upload_rate: %w", err)
	}
	quota, err := ParseSize(cfg.CacheQuota)
	if err != nil {
		return gui.Settings{}, fmt.Errorf("cache_quota: %w", err)
	}
	memory, err := ParseSize(cfg.MaxMemory)
	if err != nil {
		return gui.Settings{}, fmt.Errorf("max_memory: %w", err)
	}
	if cfg.CPUs < 0 {
		return gui.Settings{}, fmt.Errorf("cpus %d: want 0 (all) or more", cfg.CPUs)
	}
	s := gui.Settings{
		CPUs: min(cfg.CPUs, runtime.NumCPU()), Mode: gui.ModeAlways, CacheQuota: quota, MaxUploadRate: rate,
		BlockedPublishers: slices.Clone(cfg.BlockPublishers), BlockedJobs: slices.Clone(cfg.BlockJobs),
		AllowUnsandboxed: cfg.AllowUnsandboxed, MaxMemory: memory,
	}
	return s, checkSettings(s)
}

// checkSettings rejects settings that cannot take effect, in one line: the
// API's checks, and block lists of real peer and job IDs.
func checkSettings(s gui.Settings) error {
	if err := gui.ValidateSettings(s); err != nil {
		return err
	}
	for _, p := range s.BlockedPublishers {
		if _, err := peer.Decode(p); err != nil {
			return fmt.Errorf("block_publishers: %q is not a peer ID", p)
		}
	}
	for _, j := range s.BlockedJobs {
		if _, err := job.ParseID(j); err != nil {
			return fmt.Errorf("block_jobs: %q is not a job ID", j)
		}
	}
	return nil
}

// blockLists decodes checked settings' block lists.
func blockLists(s gui.Settings) ([]peer.ID, []cid.Cid) {
	var pubs []peer.ID
	for _, p := range s.BlockedPublishers {
		if id, err := peer.Decode(p); err == nil {
			pubs = append(pubs, id)
		}
	}
	var jobs []cid.Cid
	for _, j := range s.BlockedJobs {
		if id, err := job.ParseID(j); err == nil {
			jobs = append(jobs, id)
		}
	}
	return pubs, jobs
}

// withFlags is saved with the settings the command line gave (named in
// flags) taken from fromConfig.
func withFlags(saved, fromConfig gui.Settings, flags []string) gui.Settings {
	for _, f := range flags {
		switch f {
		case "cpus":
			saved.CPUs = fromConfig.CPUs
		case "max_upload_rate":
			saved.MaxUploadRate = fromConfig.MaxUploadRate
		case "cache_quota":
			saved.CacheQuota = fromConfig.CacheQuota
		case "allow_unsandboxed":
			saved.AllowUnsandboxed = fromConfig.AllowUnsandboxed
		case "max_memory":
			saved.MaxMemory = fromConfig.MaxMemory
		}
	}
	return saved
}

// loadSettings returns the settings saved from the web app, if any.
func loadSettings(d *sql.DB) (gui.Settings, bool, error) {
	var raw string
	err := d.QueryRow(`SELECT settings FROM volunteer_settings WHERE id = 1`).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return gui.Settings{}, false, nil
	}
	if err != nil {
		return gui.Settings{}, false, fmt.Errorf("reading saved settings: %w", err)
	}
	var s gui.Settings
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return gui.Settings{}, false, fmt.Errorf("saved settings: %w", err)
	}
	if err := checkSettings(s); err != nil {
		return gui.Settings{}, false, fmt.Errorf("saved settings: %w", err)
	}
	return s, true, nil
}

// saveSettings persists settings changed from the web app.
func saveSettings(d *sql.DB, s gui.Settings, now time.Time) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = d.Exec(`INSERT INTO volunteer_settings (id, settings, updated) VALUES (1, ?, ?)
		ON CONFLICT (id) DO UPDATE SET settings = excluded.settings, updated = excluded.updated`, string(b), now.Unix())
	if err != nil {
		return fmt.Errorf("saving settings: %w", err)
	}
	return nil
}
