package autostart

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// UnitName is the systemd user unit's name.
const UnitName = Name + ".service"

// SystemdUnit is the systemd user unit that runs e's node. Its stderr, and
// so the node's log, goes to the user's journal; e.LogFile is not used.
func SystemdUnit(e Entry) (string, error) {
	if err := e.Validate(); err != nil {
		return "", err
	}
	args := append([]string{e.Program}, e.NodeArgs()...)
	for i, a := range args {
		args[i] = systemdArg(a)
	}
	return `[Unit]
Description=renderswarm volunteer render node

[Service]
Type=exec
ExecStart=` + strings.Join(args, " ") + `
# Renders yield to whatever the user does.
Nice=19
IOSchedulingClass=best-effort
IOSchedulingPriority=7
Restart=on-failure
RestartSec=30s
# On stop the node hands its leases back before it exits.
TimeoutStopSec=60s

[Install]
WantedBy=default.target
`, nil
}

// systemdArg quotes one ExecStart argument: specifiers (%) and variable
// references ($) are escaped, and an argument with spaces, quotes or
// backslashes is double-quoted with C escapes.
func systemdArg(a string) string {
	a = strings.NewReplacer("%", "%%", "$", "$$").Replace(a)
	if a != "" && !strings.ContainsAny(a, " \t\"'\\;") {
		return a
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a) + `"`
}

// UserUnitDir is where systemd looks for a user's own units:
// $XDG_CONFIG_HOME/systemd/user, else ~/.config/systemd/user.
func UserUnitDir(getenv func(string) string, userHome string) (string, error) {
	if d := getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "systemd", "user"), nil
	}
	if userHome == "" {
		return "", errors.New("finding the systemd user unit directory: $HOME is not set")
	}
	return filepath.Join(userHome, ".config", "systemd", "user"), nil
}

// Systemd manages the user unit with systemctl --user. Enabling works
// without a running user manager (systemctl then edits the unit links
// itself), so a unit installed over SSH or in a container starts at the
// next login; starting and asking whether it runs need the manager.
type Systemd struct {
	Dir string // the user unit directory (UserUnitDir)
	// PackageDirs are where packages put user units (PackagedUnitDirs):
	// a packaged renderswarm.service enabled with systemctl --user enable
	// counts as installed, and uninstall disables it.
	PackageDirs []string
	Run         Runner // runs systemctl
}

// PackagedUnitDirs are the directories systemd reads user units from
// that packages (and administrators) install into.
var PackagedUnitDirs = []string{"/etc/systemd/user", "/usr/local/lib/systemd/user", "/usr/lib/systemd/user", "/lib/systemd/user"}

// unitFile is the unit systemd would use: the user's own, else a
// packaged one; "" when there is none.
func (s *Systemd) unitFile() string {
	for _, d := range append([]string{s.Dir}, s.PackageDirs...) {
		if _, err := os.Stat(filepath.Join(d, UnitName)); err == nil {
			return filepath.Join(d, UnitName)
		}
	}
	return ""
}

var _ Manager = (*Systemd)(nil)

func (s *Systemd) path() string { return filepath.Join(s.Dir, UnitName) }

func (s *Systemd) systemctl(ctx context.Context, args ...string) (string, error) {
	return s.Run(ctx, "systemctl", append([]string{"--user"}, args...)...)
}

// Install writes the unit, enables it and, with start, (re)starts it.
func (s *Systemd) Install(ctx context.Context, e Entry, start bool) ([]string, error) {
	unit, err := SystemdUnit(e)
	if err != nil {
		return nil, err
	}
	if err := writeFile(s.path(), []byte(unit), 0o644); err != nil {
		return nil, err
	}
	var notes []string
	// Without a user manager (no session bus) daemon-reload fails; the
	// unit is read at the next login anyway.
	_, reloadErr := s.systemctl(ctx, "daemon-reload")
	if _, err := s.systemctl(ctx, "enable", UnitName); err != nil {
		return nil, fmt.Errorf("enabling %s: %w", UnitName, err)
	}
	switch {
	case reloadErr != nil:
		notes = append(notes, "the systemd user manager is not reachable ("+lastLine(reloadErr.Error())+"): the node starts at the next login")
	case start:
		if _, err := s.systemctl(ctx, "restart", UnitName); err != nil {
			return nil, fmt.Errorf("starting %s: %w", UnitName, err)
		}
		notes = append(notes, "started: systemctl --user status "+UnitName)
	}
	return notes, nil
}

// Uninstall stops and disables the unit and removes the user's own unit
// file (a packaged one stays, disabled).
func (s *Systemd) Uninstall(ctx context.Context) ([]string, error) {
	if s.unitFile() == "" {
		return []string{"no unit at " + s.path() + ": nothing to remove"}, nil
	}
	var notes []string
	if _, err := s.systemctl(ctx, "stop", UnitName); err != nil {
		notes = append(notes, "could not stop the node through systemd ("+lastLine(err.Error())+")")
	}
	if _, err := s.systemctl(ctx, "disable", UnitName); err != nil {
		return nil, fmt.Errorf("disabling %s: %w", UnitName, err)
	}
	if _, err := removeFile(s.path()); err != nil {
		return nil, err
	}
	s.systemctl(ctx, "daemon-reload")
	return notes, nil
}

// Status reads the unit and asks systemctl whether it is enabled and runs.
func (s *Systemd) Status(ctx context.Context) (Status, error) {
	st := Status{System: "systemd", Where: s.path(), Enabled: Unknown, Running: Unknown,
		Log: "journalctl --user -u " + Name}
	file := s.unitFile()
	if file == "" {
		return st, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return st, fmt.Errorf("reading %s: %w", file, err)
	}
	st.Where = file
	for _, l := range strings.Split(string(b), "\n") {
		if c, ok := strings.CutPrefix(l, "ExecStart="); ok {
			st.Command = c
		}
	}
	// is-enabled and is-active print their answer and exit non-zero for
	// most answers; an answer that is not a single word is an error.
	if out, _ := s.systemctl(ctx, "is-enabled", UnitName); isWord(out) {
		st.Enabled = strings.TrimSpace(out)
	}
	// The user's own unit is installed; a packaged one once enabled.
	st.Installed = file == s.path() || st.Enabled == "enabled"
	if out, _ := s.systemctl(ctx, "is-active", UnitName); isWord(out) {
		switch a := strings.TrimSpace(out); a {
		case "active", "reloading", "activating", "deactivating":
			st.Running = "running"
		case "inactive", "failed":
			st.Running = "stopped (" + a + ")"
		}
	}
	return st, nil
}

func isWord(s string) bool {
	s = strings.TrimSpace(s)
	return s != "" && !strings.ContainsAny(s, " \n")
}
