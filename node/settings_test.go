package node

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/internal/db"
	"github.com/renderswarm/renderswarm/volunteer"
)

func TestScheduleWindow(t *testing.T) {
	at := func(hm string) time.Time {
		c, err := time.Parse("15:04", hm)
		if err != nil {
			t.Fatal(err)
		}
		return time.Date(2026, 11, 22, c.Hour(), c.Minute(), 0, 0, time.Local)
	}
	for _, c := range []struct {
		window, at string
		in         bool
	}{
		{"09:00-17:00", "08:59", false},
		{"09:00-17:00", "09:00", true},
		{"09:00-17:00", "16:59", true},
		{"09:00-17:00", "17:00", false},
		{"22:00-07:00", "23:30", true}, // wraps midnight
		{"22:00-07:00", "03:00", true},
		{"22:00-07:00", "07:00", false},
		{"22:00-07:00", "12:00", false},
		{"00:00-23:59", "23:58", true},
		{"00:00-23:59", "23:59", false},
	} {
		if _, _, err := gui.ParseSchedule(c.window); err != nil {
			t.Fatalf("%s: %v", c.window, err)
		}
		vs := volunteerSettings(gui.Settings{Mode: gui.ModeSchedule, Schedule: c.window}, nil)
		if got := vs.Mode == volunteer.Scheduled && vs.Window.Contains(at(c.at)); got != c.in {
			t.Errorf("%s at %s: in = %v, want %v", c.window, c.at, got, c.in)
		}
	}
}

func TestCheckSettings(t *testing.T) {
	good := []gui.Settings{
		{},
		{Mode: gui.ModeIdle, IdleMinutes: 5, CPUs: runtime.NumCPU()},
		{Mode: gui.ModeSchedule, Schedule: "22:00-07:00"},
		{BlockedPublishers: []string{"12D3KooWKKtbRBqm2RGJ7YhxNLcUsjsQD8r3qbHWFqbxS8KsBvBx"}},
	}
	for _, s := range good {
		if err := checkSettings(s); err != nil {
			t.Errorf("%+v refused: %v", s, err)
		}
	}
	bad := map[string]gui.Settings{
		"cores":       {CPUs: runtime.NumCPU() + 1},
		"negative":    {CPUs: -1},
		"mode":        {Mode: "sometimes"},
		"schedule":    {Mode: gui.ModeSchedule, Schedule: "late"},
		"empty":       {Mode: gui.ModeSchedule, Schedule: "10:00-10:00"},
		"clock":       {Mode: gui.ModeSchedule, Schedule: "25:00-07:00"},
		"quota":       {CacheQuota: -1},
		"rate":        {MaxUploadRate: -5},
		"publisher":   {BlockedPublishers: []string{"not-a-peer"}},
		"job":         {BlockedJobs: []string{"bafy-nope"}},
		"idleMinutes": {Mode: gui.ModeIdle, IdleMinutes: -1},
	}
	for name, s := range bad {
		err := checkSettings(s)
		if err == nil {
			t.Errorf("%s: %+v accepted", name, s)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", name, err)
		}
	}
}

// Saved settings round-trip through the database.
func TestSettingsPersist(t *testing.T) {
	d, err := db.Open(t.TempDir() + "/node.db")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := migrateSettings(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := loadSettings(d); ok || err != nil {
		t.Fatalf("fresh database: ok=%v err=%v", ok, err)
	}
	want := gui.Settings{CPUs: 1, Mode: gui.ModeSchedule, Schedule: "22:00-07:00", Paused: true, Renderers: []string{"builtin"}}
	for range 2 { // insert, then update
		if err := saveSettings(d, want, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := loadSettings(d)
	if err != nil || !ok || got.CPUs != 1 || got.Schedule != want.Schedule || !got.Paused || len(got.Renderers) != 1 {
		t.Fatalf("loaded %+v ok=%v err=%v; want %+v", got, ok, err, want)
	}
}

// A home made before the publisher had its own package recorded its
// migrations as "node" 1 (jobs) and 2 (settings): it opens with its
// settings and jobs intact, nothing run twice.
func TestHomeFromBeforeTheSplitOpens(t *testing.T) {
	home := t.TempDir()
	d, err := db.Open(filepath.Join(home, databaseFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_migrations (component TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (component, version))`,
		`CREATE TABLE published_jobs (id TEXT PRIMARY KEY, signed BLOB NOT NULL, snapshot BLOB NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL)`,
		`CREATE TABLE volunteer_settings (id INTEGER PRIMARY KEY CHECK (id = 1), settings TEXT NOT NULL, updated INTEGER NOT NULL)`,
		`INSERT INTO schema_migrations VALUES ('node', 1), ('node', 2)`,
		`INSERT INTO volunteer_settings VALUES (1, '{"cpus":1,"mode":"always","paused":true}', 1)`,
	} {
		if _, err := d.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	_, stop := startRun(t, testConfig(home))
	c, err := gui.Dial(context.Background(), home)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Settings(context.Background())
	if err != nil || !s.Paused || s.CPUs != 1 {
		t.Fatalf("settings after opening an old home: %+v, %v; want the saved ones", s, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// Settings given on the command line win over saved ones; the rest of the
// saved settings stay.
func TestFlagsWinOverSavedSettings(t *testing.T) {
	saved := gui.Settings{CPUs: 2, MaxUploadRate: 1 << 20, CacheQuota: 5 << 30, Paused: true, Mode: gui.ModeIdle}
	fromConfig := gui.Settings{CPUs: 1, MaxUploadRate: 8 << 20, CacheQuota: 1 << 30}
	got := withFlags(saved, fromConfig, []string{"cpus", "cache_quota"})
	want := gui.Settings{CPUs: 1, MaxUploadRate: 1 << 20, CacheQuota: 1 << 30, Paused: true, Mode: gui.ModeIdle}
	if got.CPUs != want.CPUs || got.MaxUploadRate != want.MaxUploadRate || got.CacheQuota != want.CacheQuota || !got.Paused || got.Mode != want.Mode {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// The sandbox opt-in and the memory cap come from config.toml and the
// command line like the other settings; a flag wins over saved settings.
func TestSandboxAndMemorySettings(t *testing.T) {
	s, err := settingsFromConfig(Config{AllowUnsandboxed: true, MaxMemory: "2GiB"})
	if err != nil || !s.AllowUnsandboxed || s.MaxMemory != 2<<30 || memoryCap(s) != 2<<30 {
		t.Fatalf("from config: %+v, %v", s, err)
	}
	if _, err := settingsFromConfig(Config{MaxMemory: "10MiB"}); err == nil {
		t.Error("a 10 MiB memory cap was accepted")
	}
	if memoryCap(gui.Settings{}) != 4<<30 {
		t.Errorf("default memory cap %d", memoryCap(gui.Settings{}))
	}
	saved := gui.Settings{MaxMemory: 1 << 30}
	got := withFlags(saved, s, []string{"allow_unsandboxed", "max_memory"})
	if !got.AllowUnsandboxed || got.MaxMemory != 2<<30 {
		t.Errorf("flags over saved settings: %+v", got)
	}
	if got := withFlags(gui.Settings{AllowUnsandboxed: true}, gui.Settings{}, nil); !got.AllowUnsandboxed {
		t.Error("a saved opt-in was lost without flags")
	}
}
