package autostart

import (
	"context"
	"errors"
	"strings"
)

// RunKeyPath is the per-user key whose values Windows runs at login.
const RunKeyPath = `Software\Microsoft\Windows\CurrentVersion\Run`

// WindowsCommandLine is the Run key's value for e: the program and the
// node's arguments quoted as CommandLineToArgvW and the Go runtime parse
// them, logging to e.LogFile.
func WindowsCommandLine(e Entry) (string, error) {
	if err := e.Validate(); err != nil {
		return "", err
	}
	if e.LogFile == "" {
		return "", errors.New("a Windows start at login needs a log file")
	}
	if strings.Contains(e.Program, `"`) {
		return "", errors.New("a Windows program path cannot contain a double quote")
	}
	argv := e.argv()
	// The program name is read up to the closing quote, with no
	// backslash escapes: quote it whole.
	parts := []string{`"` + argv[0] + `"`}
	for _, a := range argv[1:] {
		parts = append(parts, windowsArg(a))
	}
	return strings.Join(parts, " "), nil
}

// windowsArg quotes one argument for CommandLineToArgvW: left alone when
// it has no blank or quote, else in double quotes, with every quote
// escaped by a backslash and the backslashes before a quote (or before the
// closing quote) doubled.
func windowsArg(a string) string {
	if a != "" && !strings.ContainsAny(a, " \t\"") {
		return a
	}
	var b strings.Builder
	b.WriteByte('"')
	backslashes := 0
	for i := 0; i < len(a); i++ {
		switch c := a[i]; c {
		case '\\':
			backslashes++
			continue
		case '"':
			b.WriteString(strings.Repeat(`\`, 2*backslashes+1))
		default:
			b.WriteString(strings.Repeat(`\`, backslashes))
		}
		backslashes = 0
		b.WriteByte(a[i])
	}
	b.WriteString(strings.Repeat(`\`, 2*backslashes))
	b.WriteByte('"')
	return b.String()
}

// RunKey is the user's Run key (RunKeyPath under HKEY_CURRENT_USER).
type RunKey interface {
	// Get returns a value; ok is false when there is none.
	Get(name string) (value string, ok bool, err error)
	Set(name, value string) error
	// Delete removes a value; removing one that is not there is no error.
	Delete(name string) error
}

// WindowsRun manages a value under the user's Run key.
type WindowsRun struct {
	Key RunKey
	// Start starts the node now, detached from this console; nil means
	// the entry only takes effect at the next login.
	Start func(argv []string) error
}

var _ Manager = (*WindowsRun)(nil)

// Install sets the Run value and, with start, starts the node now.
func (w *WindowsRun) Install(_ context.Context, e Entry, start bool) ([]string, error) {
	line, err := WindowsCommandLine(e)
	if err != nil {
		return nil, err
	}
	if err := w.Key.Set(Name, line); err != nil {
		return nil, err
	}
	if !start || w.Start == nil {
		return nil, nil
	}
	if err := w.Start(e.argv()); err != nil {
		return nil, err
	}
	return []string{"started; it logs to " + e.LogFile}, nil
}

// Uninstall removes the Run value. A node it started keeps running until
// it is stopped or the user logs out.
func (w *WindowsRun) Uninstall(context.Context) ([]string, error) {
	_, ok, err := w.Key.Get(Name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return []string{`no value "` + Name + `" under HKCU\` + RunKeyPath + ": nothing to remove"}, nil
	}
	return []string{"a running node keeps running until it is stopped or the user logs out"}, w.Key.Delete(Name)
}

// Status reads the Run value. Whether the node runs, Windows cannot tell
// from it (the caller asks the node itself).
func (w *WindowsRun) Status(context.Context) (Status, error) {
	st := Status{System: "windows-run-key", Where: `HKCU\` + RunKeyPath + `\` + Name, Enabled: Unknown, Running: Unknown}
	v, ok, err := w.Key.Get(Name)
	if err != nil || !ok {
		return st, err
	}
	st.Installed, st.Enabled, st.Command = true, "yes", v
	if i := strings.Index(v, " --log-file "); i >= 0 {
		st.Log = strings.Trim(v[i+len(" --log-file "):], `"`)
	}
	return st, nil
}
