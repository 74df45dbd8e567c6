package autostart

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/renderswarm/renderswarm/internal/autostart/systemdtest"
)

// recorder is a fake Runner: it records every call and answers from a
// table of "name arg…" prefixes.
type recorder struct {
	calls   []string
	answers map[string]answer
}

type answer struct {
	out string
	err error
}

func (r *recorder) run(_ context.Context, name string, args ...string) (string, error) {
	call := strings.Join(append([]string{name}, args...), " ")
	r.calls = append(r.calls, call)
	for prefix, a := range r.answers {
		if strings.HasPrefix(call, prefix) {
			return a.out, a.err
		}
	}
	return "", nil
}

var errNoBus = errors.New("exit status 1: Failed to connect to bus: No such file or directory")

func TestSystemdUnitQuotesTheCommand(t *testing.T) {
	unit, err := SystemdUnit(Entry{Program: "/opt/render swarm/bin/renderswarm", Home: `/home/ada/100% "real"/$HOME`})
	if err != nil {
		t.Fatal(err)
	}
	want := `ExecStart="/opt/render swarm/bin/renderswarm" --home "/home/ada/100%% \"real\"/$$HOME" node` + "\n"
	if !strings.Contains(unit, want) {
		t.Fatalf("unit lacks %q:\n%s", want, unit)
	}
	for _, line := range []string{"Type=exec", "Restart=on-failure", "Nice=19", "WantedBy=default.target"} {
		if !strings.Contains(unit, line+"\n") {
			t.Errorf("unit lacks %s", line)
		}
	}
	plain, _ := SystemdUnit(Entry{Program: "/usr/bin/renderswarm"})
	if !strings.Contains(plain, "ExecStart=/usr/bin/renderswarm node\n") {
		t.Errorf("default-home unit:\n%s", plain)
	}
	for _, bad := range []Entry{{Program: "renderswarm"}, {Program: "/usr/bin/renderswarm", Home: "/a\nExecStartPre=/bin/evil"}} {
		if _, err := SystemdUnit(bad); err == nil {
			t.Errorf("SystemdUnit(%+v) accepted", bad)
		}
	}
}

// TestSystemdUnitPassesSystemdAnalyze has systemd itself check the unit, for
// a program whose path needs quoting.
func TestSystemdUnitPassesSystemdAnalyze(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "render swarm", "renderswarm")
	os.MkdirAll(filepath.Dir(prog), 0o755)
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unit, err := SystemdUnit(Entry{Program: prog, Home: filepath.Join(dir, "home 100%")})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, UnitName)
	os.WriteFile(path, []byte(unit), 0o644)
	systemdtest.Verify(t, path)
}

func TestSystemdInstallStatusUninstall(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "systemd", "user")
	r := &recorder{answers: map[string]answer{
		"systemctl --user is-enabled": {out: "enabled\n"},
		"systemctl --user is-active":  {out: "active\n"},
	}}
	s := &Systemd{Dir: dir, Run: r.run}
	e := Entry{Program: "/usr/bin/renderswarm", Home: "/home/ada/rs"}
	if _, err := s.Install(ctx, e, true); err != nil {
		t.Fatal(err)
	}
	want := []string{"systemctl --user daemon-reload", "systemctl --user enable renderswarm.service", "systemctl --user restart renderswarm.service"}
	if !slices.Equal(r.calls, want) {
		t.Fatalf("install ran %q; want %q", r.calls, want)
	}
	b, err := os.ReadFile(filepath.Join(dir, UnitName))
	if unit, _ := SystemdUnit(e); err != nil || string(b) != unit {
		t.Fatalf("unit file = %q, %v; want the generated unit", b, err)
	}
	st, err := s.Status(ctx)
	if err != nil || !st.Installed || st.Enabled != "enabled" || st.Running != "running" ||
		st.Command != "/usr/bin/renderswarm --home /home/ada/rs node" || st.Log != "journalctl --user -u renderswarm" {
		t.Fatalf("status = %+v, %v", st, err)
	}
	r.calls = nil
	if _, err := s.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	want = []string{"systemctl --user stop renderswarm.service", "systemctl --user disable renderswarm.service", "systemctl --user daemon-reload"}
	if !slices.Equal(r.calls, want) {
		t.Fatalf("uninstall ran %q; want %q", r.calls, want)
	}
	if _, err := os.Stat(filepath.Join(dir, UnitName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("unit still there after uninstall: %v", err)
	}
	if st, err := s.Status(ctx); err != nil || st.Installed {
		t.Fatalf("status after uninstall = %+v, %v", st, err)
	}
	notes, err := s.Uninstall(ctx)
	if err != nil || len(notes) != 1 || !strings.Contains(notes[0], "nothing to remove") {
		t.Fatalf("second uninstall = %q, %v", notes, err)
	}
}

// Over SSH or in a container there is no user manager: the unit is still
// written and enabled, and starts at the next login.
func TestSystemdInstallWithoutUserManager(t *testing.T) {
	r := &recorder{answers: map[string]answer{
		"systemctl --user daemon-reload": {out: "Failed to connect to bus: No such file or directory\n", err: errNoBus},
		"systemctl --user is-active":     {out: "Failed to connect to bus: No such file or directory\n", err: errNoBus},
		"systemctl --user is-enabled":    {out: "enabled\n"},
	}}
	s := &Systemd{Dir: t.TempDir(), Run: r.run}
	notes, err := s.Install(context.Background(), Entry{Program: "/usr/bin/renderswarm"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(r.calls, "systemctl --user restart renderswarm.service") {
		t.Errorf("tried to start with no user manager: %q", r.calls)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "next login") {
		t.Errorf("notes = %q; want one saying it starts at the next login", notes)
	}
	st, _ := s.Status(context.Background())
	if st.Running != Unknown || st.Enabled != "enabled" {
		t.Errorf("status = %+v; want enabled, running unknown", st)
	}
}

func TestSystemdInstallFailsWhenEnableFails(t *testing.T) {
	r := &recorder{answers: map[string]answer{"systemctl --user enable": {err: errors.New("exit status 1: Access denied")}}}
	s := &Systemd{Dir: t.TempDir(), Run: r.run}
	_, err := s.Install(context.Background(), Entry{Program: "/usr/bin/renderswarm"}, true)
	if err == nil || !strings.Contains(err.Error(), "enabling renderswarm.service") {
		t.Fatalf("err = %v; want one about enabling", err)
	}
}

func TestUserUnitDir(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if d, _ := UserUnitDir(env(nil), "/home/ada"); d != "/home/ada/.config/systemd/user" {
		t.Errorf("default = %s", d)
	}
	if d, _ := UserUnitDir(env(map[string]string{"XDG_CONFIG_HOME": "/cfg"}), "/home/ada"); d != "/cfg/systemd/user" {
		t.Errorf("XDG_CONFIG_HOME = %s", d)
	}
	// The XDG spec ignores relative paths.
	if d, _ := UserUnitDir(env(map[string]string{"XDG_CONFIG_HOME": "cfg"}), "/home/ada"); d != "/home/ada/.config/systemd/user" {
		t.Errorf("relative XDG_CONFIG_HOME = %s", d)
	}
	if _, err := UserUnitDir(env(nil), ""); err == nil {
		t.Error("no home: no error")
	}
}

// plist is the subset of a property list the LaunchAgent uses.
type plist struct {
	XMLName xml.Name  `xml:"plist"`
	Dict    plistDict `xml:"dict"`
}

type plistDict struct {
	Items []plistItem `xml:",any"`
}

type plistItem struct {
	XMLName xml.Name
	Text    string      `xml:",chardata"`
	Items   []plistItem `xml:",any"`
}

// decodePlist reads a property list's top dictionary as key → value, each
// value its element name and text (arrays: their strings joined by "|").
func decodePlist(t *testing.T, b []byte) map[string]string {
	t.Helper()
	var p plist
	if err := xml.Unmarshal(b, &p); err != nil {
		t.Fatalf("property list is not XML: %v\n%s", err, b)
	}
	out := map[string]string{}
	items := p.Dict.Items
	for i := 0; i+1 < len(items); i += 2 {
		if items[i].XMLName.Local != "key" {
			t.Fatalf("item %d is %s, not a key", i, items[i].XMLName.Local)
		}
		v := items[i+1]
		val := v.XMLName.Local + ":" + v.Text
		if len(v.Items) > 0 {
			var parts []string
			for _, it := range v.Items {
				parts = append(parts, it.XMLName.Local+"="+it.Text)
			}
			val = v.XMLName.Local + ":" + strings.Join(parts, "|")
		}
		out[items[i].Text] = val
	}
	return out
}

func TestLaunchAgentPlist(t *testing.T) {
	e := Entry{Program: "/Applications/renderswarm & co/renderswarm", Home: "/Users/ada/rs <1>", LogFile: "/Users/ada/rs <1>/node.log"}
	b, err := LaunchAgentPlist(e)
	if err != nil {
		t.Fatal(err)
	}
	got := decodePlist(t, b)
	want := map[string]string{
		"Label":                "string:" + Label,
		"ProgramArguments":     "array:string=/Applications/renderswarm & co/renderswarm|string=--home|string=/Users/ada/rs <1>|string=node",
		"RunAtLoad":            "true:",
		"KeepAlive":            "dict:key=SuccessfulExit|false=",
		"StandardErrorPath":    "string:/Users/ada/rs <1>/node.log",
		"StandardOutPath":      "string:/Users/ada/rs <1>/node.log",
		"Nice":                 "integer:19",
		"EnvironmentVariables": "dict:key=PATH|string=" + launchdPath,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q; want %q", k, got[k], v)
		}
	}
	if !strings.Contains(launchdPath, "/opt/homebrew/bin") {
		t.Error("the agent's PATH misses Homebrew")
	}
	if _, err := LaunchAgentPlist(Entry{Program: "/usr/local/bin/renderswarm"}); err == nil {
		t.Error("a LaunchAgent without a log file was accepted")
	}
}

func TestLaunchdInstallStatusUninstall(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r := &recorder{answers: map[string]answer{"launchctl print": {out: "gui/501/" + Label + " = {\n\tstate = running\n}"}}}
	l := &Launchd{Dir: filepath.Join(dir, "LaunchAgents"), UID: 501, Run: r.run}
	e := Entry{Program: "/opt/homebrew/bin/renderswarm", LogFile: filepath.Join(dir, "home", "node.log")}
	if _, err := l.Install(ctx, e, true); err != nil {
		t.Fatal(err)
	}
	plistPath := filepath.Join(dir, "LaunchAgents", Label+".plist")
	want := []string{"launchctl bootout gui/501/" + Label, "launchctl bootstrap gui/501 " + plistPath}
	if !slices.Equal(r.calls, want) {
		t.Fatalf("install ran %q; want %q", r.calls, want)
	}
	if fi, err := os.Stat(filepath.Dir(e.LogFile)); err != nil || !fi.IsDir() {
		t.Fatalf("log directory not made: %v", err)
	}
	st, err := l.Status(ctx)
	if err != nil || !st.Installed || st.Running != "running" || st.Command != "/opt/homebrew/bin/renderswarm node" || st.Log != e.LogFile {
		t.Fatalf("status = %+v, %v", st, err)
	}
	r.calls = nil
	if _, err := l.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.calls, []string{"launchctl bootout gui/501/" + Label}) {
		t.Fatalf("uninstall ran %q", r.calls)
	}
	if _, err := os.Stat(plistPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("plist still there: %v", err)
	}
	// Without start, nothing is loaded: launchd reads it at the next login.
	r.calls = nil
	if _, err := l.Install(ctx, e, false); err != nil || len(r.calls) != 0 {
		t.Fatalf("install --no-start ran %q, %v", r.calls, err)
	}
}

// fakeRunKey is the Run key in memory.
type fakeRunKey map[string]string

func (k fakeRunKey) Get(name string) (string, bool, error) { v, ok := k[name]; return v, ok, nil }
func (k fakeRunKey) Set(name, value string) error          { k[name] = value; return nil }
func (k fakeRunKey) Delete(name string) error              { delete(k, name); return nil }

func TestWindowsArgQuoting(t *testing.T) {
	// Expected forms follow CommandLineToArgvW's rules: 2n backslashes
	// before a quote give n and end or begin a quoted part; 2n+1 give n
	// and a literal quote; other backslashes are literal.
	for in, want := range map[string]string{
		``:                 `""`,
		`node`:             `node`,
		`C:\Users\ada\rs`:  `C:\Users\ada\rs`,
		`C:\Users\a b\rs`:  `"C:\Users\a b\rs"`,
		`C:\Users\a b\rs\`: `"C:\Users\a b\rs\\"`,
		`say "hi"`:         `"say \"hi\""`,
		`a\"b`:             `"a\\\"b"`,
		`tab	here`:         `"tab	here"`,
		`trailing\\`:       `trailing\\`,
		`C:\x y\\"q\`:      `"C:\x y\\\\\"q\\"`,
	} {
		if got := windowsArg(in); got != want {
			t.Errorf("windowsArg(%q) = %s; want %s", in, got, want)
		}
		if got := splitWindows(windowsArg(in)); len(got) != 1 || got[0] != in {
			t.Errorf("windowsArg(%q) = %s parses back as %q", in, windowsArg(in), got)
		}
	}
}

// splitWindows parses a command line's arguments as CommandLineToArgvW
// does after the program name.
func splitWindows(s string) []string {
	var args []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			n := 0
			for i < len(s) && s[i] == '\\' {
				n++
				i++
			}
			if i < len(s) && s[i] == '"' {
				cur.WriteString(strings.Repeat(`\`, n/2))
				if n%2 == 1 {
					cur.WriteByte('"')
				} else {
					inQuote = !inQuote
				}
				have = true
			} else {
				cur.WriteString(strings.Repeat(`\`, n))
				i--
				have = true
			}
		case c == '"':
			inQuote, have = !inQuote, true
		case (c == ' ' || c == '\t') && !inQuote:
			if have {
				args = append(args, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		args = append(args, cur.String())
	}
	return args
}

func TestWindowsRunInstallStatusUninstall(t *testing.T) {
	ctx := context.Background()
	key := fakeRunKey{"OtherApp": `"C:\other.exe"`}
	var started [][]string
	w := &WindowsRun{Key: key, Start: func(argv []string) error { started = append(started, argv); return nil }}
	e := Entry{Program: `C:\Program Files\renderswarm\renderswarm.exe`, Home: `C:\Users\Ada Lovelace\rs`, LogFile: `C:\Users\Ada Lovelace\rs\node.log`}
	if _, err := w.Install(ctx, e, true); err != nil {
		t.Fatal(err)
	}
	wantLine := `"C:\Program Files\renderswarm\renderswarm.exe" --home "C:\Users\Ada Lovelace\rs" node --log-file "C:\Users\Ada Lovelace\rs\node.log"`
	if key[Name] != wantLine {
		t.Fatalf("Run value = %s\nwant        %s", key[Name], wantLine)
	}
	wantArgv := []string{e.Program, "--home", e.Home, "node", "--log-file", e.LogFile}
	if len(started) != 1 || !slices.Equal(started[0], wantArgv) {
		t.Fatalf("started %q; want %q", started, wantArgv)
	}
	if got := splitWindows(strings.TrimPrefix(key[Name], `"`+e.Program+`"`)); !slices.Equal(got, wantArgv[1:]) {
		t.Fatalf("Run value parses as %q", got)
	}
	st, err := w.Status(ctx)
	if err != nil || !st.Installed || st.Command != wantLine || st.Log != e.LogFile || st.Where != `HKCU\`+RunKeyPath+`\renderswarm` {
		t.Fatalf("status = %+v, %v", st, err)
	}
	if _, err := w.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := key[Name]; ok || key["OtherApp"] == "" {
		t.Fatalf("after uninstall the key holds %v", key)
	}
	if st, _ := w.Status(ctx); st.Installed {
		t.Fatal("status says installed after uninstall")
	}
	if _, err := WindowsCommandLine(Entry{Program: `C:\rs.exe`}); err == nil {
		t.Error("a Run value without a log file was accepted")
	}
	if _, err := WindowsCommandLine(Entry{Program: `rs.exe`, LogFile: `C:\l`}); err == nil {
		t.Error("a relative program was accepted")
	}
}

func ExampleWindowsCommandLine() {
	line, _ := WindowsCommandLine(Entry{Program: `C:\Program Files\renderswarm\renderswarm.exe`, LogFile: `C:\Users\ada\AppData\Local\renderswarm\node.log`})
	fmt.Println(line)
	// Output: "C:\Program Files\renderswarm\renderswarm.exe" node --log-file C:\Users\ada\AppData\Local\renderswarm\node.log
}

// A unit from the Debian package, enabled with systemctl --user enable,
// counts as installed; uninstall disables it and leaves the package's file.
func TestSystemdPackagedUnit(t *testing.T) {
	ctx := context.Background()
	pkgDir := t.TempDir()
	unit, _ := SystemdUnit(Entry{Program: "/usr/bin/renderswarm"})
	os.WriteFile(filepath.Join(pkgDir, UnitName), []byte(unit), 0o644)
	enabled := "disabled\n"
	r := &recorder{answers: map[string]answer{}}
	s := &Systemd{Dir: filepath.Join(t.TempDir(), "user"), PackageDirs: []string{pkgDir}, Run: func(ctx context.Context, name string, args ...string) (string, error) {
		r.run(ctx, name, args...)
		if slices.Contains(args, "is-enabled") {
			return enabled, nil
		}
		return "", nil
	}}
	if st, err := s.Status(ctx); err != nil || st.Installed || st.Where != filepath.Join(pkgDir, UnitName) {
		t.Fatalf("packaged, not enabled: %+v, %v; want not installed, the packaged file named", st, err)
	}
	enabled = "enabled\n"
	if st, err := s.Status(ctx); err != nil || !st.Installed || st.Command != "/usr/bin/renderswarm node" {
		t.Fatalf("packaged and enabled: %+v, %v", st, err)
	}
	r.calls = nil
	if _, err := s.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(r.calls, "systemctl --user disable renderswarm.service") {
		t.Errorf("uninstall did not disable the packaged unit: %q", r.calls)
	}
	if _, err := os.Stat(filepath.Join(pkgDir, UnitName)); err != nil {
		t.Errorf("uninstall removed the package's unit: %v", err)
	}
}
