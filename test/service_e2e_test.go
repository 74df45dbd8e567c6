package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/internal/autostart/systemdtest"
)

// serviceEnv is a user session of its own for `renderswarm service`: a
// scratch home and config directory, and no reachable systemd user
// manager or session bus, so nothing touches the real session.
func serviceEnv(t *testing.T, pathDirs ...string) (env []string, unitDir string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the systemd user unit is Linux's; the other systems' entries are unit-tested in internal/autostart")
	}
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	os.MkdirAll(run, 0o700)
	path := strings.Join(append(pathDirs, os.Getenv("PATH")), string(os.PathListSeparator))
	env = []string{
		"HOME=" + filepath.Join(dir, "user"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_RUNTIME_DIR=" + run,
		"DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(run, "no-bus"),
		"PATH=" + path,
	}
	return env, filepath.Join(dir, "config", "systemd", "user")
}

// runEnv runs the CLI on home with exactly env, bounded.
func runEnv(t *testing.T, env []string, home string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"--home", home}, args...)...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("renderswarm %s: still running after 60s", strings.Join(args, " "))
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return r
}

func mustRunEnv(t *testing.T, env []string, home string, args ...string) string {
	t.Helper()
	r := runEnv(t, env, home, args...)
	if r.code != 0 {
		t.Fatalf("renderswarm %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// TestServiceWithRealSystemctl installs, reports and removes the user unit
// with the real systemctl, which with no user manager reachable edits the
// unit links itself: the unit must be one systemctl enables, and
// systemd-analyze verify must accept.
func TestServiceWithRealSystemctl(t *testing.T) {
	env, unitDir := serviceEnv(t)
	if _, err := exec.LookPath("systemctl"); err != nil {
		if os.Getenv("RENDERSWARM_REQUIRE_RENDERERS") == "1" {
			t.Fatal("systemctl is not installed (apt-get install systemd)")
		}
		t.Skip("systemctl is not installed (apt-get install systemd)")
	}
	home := filepath.Join(t.TempDir(), "node home")
	out := mustRunEnv(t, env, home, "service", "install")
	if !strings.Contains(out, "not reachable") || !strings.Contains(out, "next login") {
		t.Errorf("install with no user manager should say the node starts at the next login:\n%s", out)
	}
	unit := filepath.Join(unitDir, "renderswarm.service")
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	if want := `ExecStart=` + binary + ` --home "` + home + `" node`; !strings.Contains(string(b), want+"\n") {
		t.Errorf("unit lacks %q:\n%s", want, b)
	}
	if target, err := os.Readlink(filepath.Join(unitDir, "default.target.wants", "renderswarm.service")); err != nil || target != unit {
		t.Errorf("systemctl enable left no link to the unit: %q, %v", target, err)
	}
	systemdtest.Verify(t, unit)

	out = mustRunEnv(t, env, home, "service", "status")
	for _, want := range []string{"start at login: installed (systemd: " + unit + ")", "enabled: enabled", "service: unknown", "not running"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	var st struct {
		Installed bool   `json:"installed"`
		Enabled   string `json:"enabled"`
		Log       string `json:"log"`
	}
	if err := json.Unmarshal([]byte(mustRunEnv(t, env, home, "service", "status", "--json")), &st); err != nil ||
		!st.Installed || st.Enabled != "enabled" || st.Log != "journalctl --user -u renderswarm" {
		t.Errorf("status --json = %+v, %v", st, err)
	}

	mustRunEnv(t, env, home, "service", "uninstall")
	for _, p := range []string{unit, filepath.Join(unitDir, "default.target.wants", "renderswarm.service")} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after uninstall (%v)", p, err)
		}
	}
	if out := mustRunEnv(t, env, home, "service", "status"); !strings.Contains(out, "start at login: not installed") {
		t.Errorf("status after uninstall:\n%s", out)
	}
}

// TestServiceDrivesSystemctl checks what install and uninstall ask a user
// manager that is there, with systemctl replaced by a recorder.
func TestServiceDrivesSystemctl(t *testing.T) {
	fake := t.TempDir()
	calls := filepath.Join(fake, "calls")
	script := `#!/bin/sh
echo "$*" >> '` + calls + `'
case "$2" in
is-enabled) echo enabled ;;
is-active) echo active ;;
esac
`
	if err := os.WriteFile(filepath.Join(fake, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	env, unitDir := serviceEnv(t, fake)
	home := t.TempDir()
	out := mustRunEnv(t, env, home, "service", "install")
	if !strings.Contains(out, "started") {
		t.Errorf("install did not say it started the node:\n%s", out)
	}
	out = mustRunEnv(t, env, home, "service", "status")
	if !strings.Contains(out, "service: running") {
		t.Errorf("status:\n%s", out)
	}
	mustRunEnv(t, env, home, "service", "uninstall")
	b, _ := os.ReadFile(calls)
	want := strings.Join([]string{
		"--user daemon-reload", "--user enable renderswarm.service", "--user restart renderswarm.service", // install
		"--user is-enabled renderswarm.service", "--user is-active renderswarm.service", // install's report
		"--user is-enabled renderswarm.service", "--user is-active renderswarm.service", // status
		"--user is-enabled renderswarm.service", "--user is-active renderswarm.service", // uninstall's look first
		"--user stop renderswarm.service", "--user disable renderswarm.service", "--user daemon-reload",
	}, "\n") + "\n"
	if string(b) != want {
		t.Errorf("systemctl calls:\n%s\nwant:\n%s", b, want)
	}
	if _, err := os.Stat(filepath.Join(unitDir, "renderswarm.service")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unit still there: %v", err)
	}
	// --no-start sets up the login start only.
	os.Remove(calls)
	mustRunEnv(t, env, home, "service", "install", "--no-start")
	if b, _ := os.ReadFile(calls); strings.Contains(string(b), "restart") {
		t.Errorf("install --no-start started the node:\n%s", b)
	}
}
