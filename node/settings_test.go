package node

import (
	"context"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/internal/db"
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
		from, to, err := gui.ParseSchedule(c.window)
		if err != nil {
			t.Fatalf("%s: %v", c.window, err)
		}
		if got := inSchedule(at(c.at), from, to); got != c.in {
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
	if _, err := openJobStore(context.Background(), d); err != nil { // migrates
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

// The machine counts as idle only after others have used less than
// busyShare of it for the whole idle time.
func TestIdleDetection(t *testing.T) {
	u := &usage{}
	t0 := time.Unix(1_700_000_000, 0)
	cores := float64(runtime.NumCPU())
	sample := func(ours, busy float64) usageSample { return usageSample{ours: ours, busy: busy, samples: true} }
	// Others busy: half the machine.
	u.update(sample(0, 0), sample(0, cores), 2, t0)
	if u.idleFor(0, t0) {
		t.Fatal("idle while others use half the machine")
	}
	// Our own renders keep the machine busy, others do not: idle.
	u.update(sample(0, cores), sample(2*cores, 3*cores), 2, t0.Add(2*time.Second))
	if u.idleFor(time.Minute, t0.Add(30*time.Second)) || !u.idleFor(time.Minute, t0.Add(62*time.Second)) {
		t.Fatal("idle time not counted from when others stopped")
	}
}

// Rendering processes the node starts count as the node's CPU use.
func TestUsageCountsChildProcesses(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("CPU counters are read from /proc")
	}
	before := readUsage()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	busy := exec.CommandContext(ctx, "sh", "-c", "i=0; while [ $i -lt 100000000 ]; do i=$((i+1)); done")
	if err := busy.Start(); err != nil {
		t.Fatal(err)
	}
	defer busy.Process.Kill()
	time.Sleep(time.Second)
	after := readUsage()
	if !after.samples || after.rss <= 0 {
		t.Fatalf("no counters: %+v", after)
	}
	if d := after.ours - before.ours; d < 0.3 {
		t.Fatalf("a busy child for 1 s added %.2f CPU-s to the node's use; want most of a second", d)
	}
}
