package node

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/job"
)

// defaultIdleMinutes is how long the machine must be idle in ModeIdle when
// the settings leave it 0.
const defaultIdleMinutes = 2

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
	if cfg.CPUs < 0 {
		return gui.Settings{}, fmt.Errorf("cpus %d: want 0 (all) or more", cfg.CPUs)
	}
	s := gui.Settings{
		CPUs: min(cfg.CPUs, runtime.NumCPU()), Mode: gui.ModeAlways, CacheQuota: quota, MaxUploadRate: rate,
		BlockedPublishers: slices.Clone(cfg.BlockPublishers), BlockedJobs: slices.Clone(cfg.BlockJobs),
	}
	return s, checkSettings(s)
}

// checkSettings rejects settings that cannot take effect, in one line.
func checkSettings(s gui.Settings) error {
	switch {
	case s.CPUs < 0 || s.CPUs > runtime.NumCPU():
		return fmt.Errorf("cpus %d: this machine has %d cores (0 means all)", s.CPUs, runtime.NumCPU())
	case s.IdleMinutes < 0 || s.IdleMinutes > 24*60:
		return fmt.Errorf("idle minutes %d outside 0..1440", s.IdleMinutes)
	case s.CacheQuota < 0:
		return errors.New("cache quota must not be negative")
	case s.MaxUploadRate < 0:
		return errors.New("upload rate must not be negative")
	}
	switch s.Mode {
	case "", gui.ModeAlways, gui.ModeIdle:
	case gui.ModeSchedule:
		if _, _, err := parseSchedule(s.Schedule); err != nil {
			return err
		}
	default:
		return fmt.Errorf("mode %q: want always, idle or schedule", s.Mode)
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

// parseSchedule parses a daily window "HH:MM-HH:MM" into minutes after
// midnight; the window may wrap midnight (22:00-07:00).
func parseSchedule(s string) (from, to int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return 0, 0, fmt.Errorf("schedule %q: want a daily window like 22:00-07:00", s)
	}
	if from, err = parseClock(a); err == nil {
		to, err = parseClock(b)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("schedule %q: %w", s, err)
	}
	if from == to {
		return 0, 0, fmt.Errorf("schedule %q: the window is empty", s)
	}
	return from, to, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a time like 07:30", s)
	}
	return hh*60 + mm, nil
}

// inSchedule reports whether t falls in the window [from, to).
func inSchedule(t time.Time, from, to int) bool {
	m := t.Hour()*60 + t.Minute()
	if from < to {
		return m >= from && m < to
	}
	return m >= from || m < to
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
