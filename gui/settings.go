package gui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// errNoVolunteer answers settings requests to a node that does not
// volunteer.
var errNoVolunteer = errors.New("this node does not volunteer (it runs with --no-volunteer)")

func (s *Server) handleSettings(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Volunteer == nil {
		writeError(w, http.StatusNotFound, errNoVolunteer)
		return
	}
	writeJSON(w, s.cfg.Volunteer.Settings())
}

func (s *Server) handleUpdateSettings(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Volunteer == nil {
		writeError(w, http.StatusNotFound, errNoVolunteer)
		return
	}
	var set Settings
	if !decode(w, r, &set) {
		return
	}
	if err := ValidateSettings(set); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	now, err := s.cfg.Volunteer.UpdateSettings(r.Context(), set)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err)
		return
	}
	writeJSON(w, now)
}

// ValidateSettings checks s before it is applied; the error is one line
// meant for the user.
func ValidateSettings(s Settings) error {
	if n := runtime.NumCPU(); s.CPUs < 0 || s.CPUs > n {
		return fmt.Errorf("cpus %d: want 0 (all) to %d", s.CPUs, n)
	}
	switch s.Mode {
	case "", ModeAlways, ModeIdle, ModeSchedule:
	default:
		return fmt.Errorf("mode %q: want %s, %s or %s", s.Mode, ModeAlways, ModeIdle, ModeSchedule)
	}
	if s.IdleMinutes < 0 || s.IdleMinutes > 24*60 {
		return fmt.Errorf("idle minutes %d: want 0 (the default) to 1440", s.IdleMinutes)
	}
	if s.Mode == ModeSchedule || s.Schedule != "" {
		if _, _, err := ParseSchedule(s.Schedule); err != nil {
			return err
		}
	}
	if s.CacheQuota < 0 {
		return fmt.Errorf("cache quota %d: must not be negative", s.CacheQuota)
	}
	if s.MaxUploadRate < 0 {
		return fmt.Errorf("upload rate %d: must not be negative", s.MaxUploadRate)
	}
	if s.MaxMemory != 0 && s.MaxMemory < MinMaxMemory {
		return fmt.Errorf("memory per render %d: want 0 (the default) or at least %d MiB", s.MaxMemory, MinMaxMemory>>20)
	}
	return nil
}

// MinMaxMemory is the least Settings.MaxMemory may be (a job's least
// memory limit).
const MinMaxMemory = 64 << 20

// ParseSchedule parses a daily window "HH:MM-HH:MM" (24-hour clock) into
// minutes after midnight; the window may wrap midnight (22:00-07:00).
func ParseSchedule(sched string) (from, to int, err error) {
	a, b, ok := strings.Cut(sched, "-")
	bad := fmt.Errorf("schedule %q: want a daily window like 22:00-07:00", sched)
	if !ok {
		return 0, 0, bad
	}
	var mins [2]int
	for i, t := range []string{a, b} {
		c, err := time.Parse("15:04", t)
		if len(t) != 5 || err != nil {
			return 0, 0, bad
		}
		mins[i] = c.Hour()*60 + c.Minute()
	}
	if mins[0] == mins[1] {
		return 0, 0, fmt.Errorf("schedule %q: the window is empty", sched)
	}
	return mins[0], mins[1], nil
}

func (s *Server) activity() Activity {
	if s.cfg.Volunteer == nil {
		return Activity{State: StateDisabled}
	}
	return s.cfg.Volunteer.Activity()
}

func (s *Server) handleActivity(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.activity())
}

// handlePreview serves the last image this volunteer rendered.
func (s *Server) handlePreview(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Volunteer == nil {
		writeError(w, http.StatusNotFound, errNoVolunteer)
		return
	}
	b, ok := s.cfg.Volunteer.Preview()
	if !ok {
		writeError(w, http.StatusNotFound, errors.New("nothing rendered yet"))
		return
	}
	writePNG(w, b, "no-store")
}

func writePNG(w http.ResponseWriter, b []byte, cache string) {
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", cache)
	w.Write(b)
}

// Listing is a directory on the node's machine, for choosing a scene or
// an asset folder in the web app.
type Listing struct {
	Path    string     `json:"path"`
	Parent  string     `json:"parent,omitempty"` // empty at the root
	Entries []DirEntry `json:"entries"`
}

// DirEntry is one entry of a Listing.
type DirEntry struct {
	Name string `json:"name"`
	Dir  bool   `json:"dir"`
	Size int64  `json:"size,omitempty"`
}

// maxEntries bounds a listing; the browser is for picking, not for
// inventories.
const maxEntries = 5000

// handleBrowse lists an absolute directory, the user's home by default:
// directories first, then files, each by name.
func (s *Server) handleBrowse(w http.ResponseWriter, r *http.Request) {
	dir := r.URL.Query().Get("path")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "/"
		}
		dir = home
	}
	if !filepath.IsAbs(dir) {
		writeError(w, http.StatusBadRequest, fmt.Errorf("path %q must be absolute", dir))
		return
	}
	dir = filepath.Clean(dir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("listing %s: %w", dir, unwrapPathError(err)))
		return
	}
	l := Listing{Path: dir, Entries: []DirEntry{}}
	if parent := filepath.Dir(dir); parent != dir {
		l.Parent = parent
	}
	for _, e := range ents {
		if len(l.Entries) == maxEntries {
			break
		}
		de := DirEntry{Name: e.Name(), Dir: e.IsDir()}
		if info, err := os.Stat(filepath.Join(dir, e.Name())); err == nil {
			de.Dir = info.IsDir() // follow symbolic links
			if !de.Dir {
				de.Size = info.Size()
			}
		}
		l.Entries = append(l.Entries, de)
	}
	slices.SortFunc(l.Entries, func(a, b DirEntry) int {
		if a.Dir != b.Dir {
			if a.Dir {
				return -1
			}
			return 1
		}
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	writeJSON(w, l)
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Settings asks for the volunteer settings in effect.
func (c *Client) Settings(ctx context.Context) (Settings, error) {
	var s Settings
	return s, c.call(ctx, "GET", "/api/settings", nil, &s)
}

// UpdateSettings applies s at once and answers the settings now in effect.
func (c *Client) UpdateSettings(ctx context.Context, s Settings) (Settings, error) {
	var now Settings
	return now, c.call(ctx, "PUT", "/api/settings", s, &now)
}

// Activity asks what the volunteer is doing now.
func (c *Client) Activity(ctx context.Context) (Activity, error) {
	var a Activity
	return a, c.call(ctx, "GET", "/api/activity", nil, &a)
}

// Network asks for the node's view of the swarm.
func (c *Client) Network(ctx context.Context) (Network, error) {
	var n Network
	return n, c.call(ctx, "GET", "/api/network", nil, &n)
}
