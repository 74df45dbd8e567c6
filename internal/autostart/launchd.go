package autostart

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Label is the LaunchAgent's label, reverse-DNS like every agent's.
const Label = "com.github.renderswarm.node"

// launchdPath is the agent's PATH: launchd gives agents only the system
// directories, where neither Homebrew's POV-Ray nor a renderswarm
// installed with it lives.
const launchdPath = "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"

// LaunchAgentPlist is the LaunchAgent property list that runs e's node at
// login, restarts it when it fails, and sends its output to e.LogFile.
func LaunchAgentPlist(e Entry) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if e.LogFile == "" {
		return nil, errors.New("a LaunchAgent needs a log file")
	}
	var b strings.Builder
	str := func(s string) string { return "<string>" + xmlText(s) + "</string>" }
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	` + str(Label) + `
	<key>ProgramArguments</key>
	<array>
`)
	for _, a := range append([]string{e.Program}, e.NodeArgs()...) {
		b.WriteString("\t\t" + str(a) + "\n")
	}
	b.WriteString(`	</array>
	<key>EnvironmentVariables</key>
	<dict>
		<key>PATH</key>
		` + str(launchdPath) + `
	</dict>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>ThrottleInterval</key>
	<integer>30</integer>
	<key>Nice</key>
	<integer>19</integer>
	<key>ExitTimeOut</key>
	<integer>60</integer>
	<key>StandardOutPath</key>
	` + str(e.LogFile) + `
	<key>StandardErrorPath</key>
	` + str(e.LogFile) + `
</dict>
</plist>
`)
	return []byte(b.String()), nil
}

// xmlText escapes s for an XML text node.
func xmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}

// Launchd manages the LaunchAgent with launchctl in the user's GUI domain.
type Launchd struct {
	Dir string // ~/Library/LaunchAgents
	UID int    // the user whose gui/UID domain the agent runs in
	Run Runner // runs launchctl
}

var _ Manager = (*Launchd)(nil)

func (l *Launchd) path() string   { return filepath.Join(l.Dir, Label+".plist") }
func (l *Launchd) domain() string { return "gui/" + strconv.Itoa(l.UID) }
func (l *Launchd) target() string { return l.domain() + "/" + Label }

// Install writes the property list; with start it (re)loads the agent,
// which starts the node now (RunAtLoad). Without, launchd loads it at the
// next login.
func (l *Launchd) Install(ctx context.Context, e Entry, start bool) ([]string, error) {
	b, err := LaunchAgentPlist(e)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(e.LogFile), 0o700); err != nil {
		return nil, fmt.Errorf("creating the log directory: %w", err)
	}
	if err := writeFile(l.path(), b, 0o644); err != nil {
		return nil, err
	}
	if !start {
		return nil, nil
	}
	l.Run(ctx, "launchctl", "bootout", l.target()) // an older copy, if loaded
	if _, err := l.Run(ctx, "launchctl", "bootstrap", l.domain(), l.path()); err != nil {
		return nil, fmt.Errorf("loading %s: %w", l.path(), err)
	}
	return []string{"started: launchctl print " + l.target()}, nil
}

// Uninstall unloads the agent (stopping the node) and removes its file.
func (l *Launchd) Uninstall(ctx context.Context) ([]string, error) {
	if _, err := os.Stat(l.path()); errors.Is(err, os.ErrNotExist) {
		return []string{"no LaunchAgent at " + l.path() + ": nothing to remove"}, nil
	}
	l.Run(ctx, "launchctl", "bootout", l.target()) // fails when not loaded
	_, err := removeFile(l.path())
	return nil, err
}

// Status reads the property list and asks launchctl whether the agent is
// loaded and its node runs.
func (l *Launchd) Status(ctx context.Context) (Status, error) {
	st := Status{System: "launchd", Where: l.path(), Enabled: Unknown, Running: Unknown}
	b, err := os.ReadFile(l.path())
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading %s: %w", l.path(), err)
	}
	st.Installed, st.Enabled = true, "yes"
	args, logFile := plistStrings(string(b))
	st.Command, st.Log = strings.Join(args, " "), logFile
	out, err := l.Run(ctx, "launchctl", "print", l.target())
	switch {
	case err != nil:
		st.Running = "stopped (not loaded)"
	case strings.Contains(out, "state = running"):
		st.Running = "running"
	default:
		st.Running = "stopped"
	}
	return st, nil
}

// plistStrings reads back the program arguments and the log file of a
// property list LaunchAgentPlist wrote.
func plistStrings(p string) (args []string, logFile string) {
	unescape := strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&apos;", "'", "&amp;", "&")
	if _, rest, ok := strings.Cut(p, "<key>ProgramArguments</key>"); ok {
		arr, _, _ := strings.Cut(rest, "</array>")
		for _, part := range strings.Split(arr, "<string>")[1:] {
			s, _, _ := strings.Cut(part, "</string>")
			args = append(args, unescape.Replace(s))
		}
	}
	if _, rest, ok := strings.Cut(p, "<key>StandardErrorPath</key>"); ok {
		if _, s, ok := strings.Cut(rest, "<string>"); ok {
			s, _, _ = strings.Cut(s, "</string>")
			logFile = unescape.Replace(s)
		}
	}
	return args, logFile
}
