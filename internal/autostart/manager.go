package autostart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Manager sets up, reports and removes the start at login on one system.
type Manager interface {
	// Install writes the entry so that the node starts at every login and,
	// with start, starts it now (again, if it runs). It returns notes for
	// the user, one line each, e.g. that the session manager could not be
	// reached and the node starts at the next login only.
	Install(ctx context.Context, e Entry, start bool) (notes []string, err error)
	// Uninstall stops the node it started and removes the entry; removing
	// an entry that is not there is not an error.
	Uninstall(ctx context.Context) (notes []string, err error)
	// Status reports the entry and what the system says about it.
	Status(ctx context.Context) (Status, error)
}

// Status is what a Manager knows about its entry.
type Status struct {
	System    string `json:"system"` // "systemd", "launchd", "windows-run-key"
	Installed bool   `json:"installed"`
	Where     string `json:"where"`   // the unit or property-list file, or the registry value
	Command   string `json:"command"` // what the entry starts, as written there
	Enabled   string `json:"enabled"` // systemd's is-enabled answer, "yes" where being there is enough, "unknown"
	Running   string `json:"running"` // "running", "stopped", "unknown" (the session manager cannot be asked)
	Log       string `json:"log"`     // where the node's log goes
}

// Unknown is a state the system could not tell.
const Unknown = "unknown"

// Runner runs a program and returns its combined output. Managers run
// systemctl and launchctl through one, so tests can see and fake every call.
type Runner func(ctx context.Context, name string, args ...string) (string, error)

// Exec is the Runner that really runs programs.
func Exec(ctx context.Context, name string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, lastLine(out.String()))
	}
	return out.String(), nil
}

// lastLine is the last non-empty line of s, trimmed.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// writeFile writes b to path atomically (a temporary file renamed over it),
// creating its directory.
func writeFile(path string, b []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// removeFile removes path; it reports whether there was one.
func removeFile(path string) (bool, error) {
	err := os.Remove(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("removing %s: %w", path, err)
	}
}
