package autostart

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Name is the entry's name everywhere: the systemd unit renderswarm.service,
// the Run key's value, the base of the LaunchAgent's label.
const Name = "renderswarm"

// Entry is what starts at login: the renderswarm binary running a node.
type Entry struct {
	// Program is the renderswarm executable, an absolute path.
	Program string
	// Home is the node's home; "" means the default home (no --home).
	Home string
	// LogFile is where the node logs when no journal takes its stderr
	// (launchd, Windows); "" means stderr.
	LogFile string
}

// Validate reports an entry no system could start: a relative program, or a
// line break in a path (unit files and command lines are line-based).
func (e Entry) Validate() error {
	if e.Program == "" || !isAbs(e.Program) {
		return fmt.Errorf("the program to start must be an absolute path, not %q", e.Program)
	}
	for _, s := range []string{e.Program, e.Home, e.LogFile} {
		if strings.ContainsAny(s, "\n\r\x00") {
			return errors.New("a path to start at login contains a line break or NUL")
		}
	}
	return nil
}

// isAbs accepts absolute paths of every system, so that the Linux tests can
// check Windows entries too.
func isAbs(p string) bool {
	if filepath.IsAbs(p) || strings.HasPrefix(p, "/") {
		return true
	}
	// C:\… or C:/…, and \\server\share\…
	return len(p) > 2 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') || strings.HasPrefix(p, `\\`)
}

// NodeArgs is the node's command line after the program, without the log
// file: [--home HOME] node.
func (e Entry) NodeArgs() []string {
	var a []string
	if e.Home != "" {
		a = append(a, "--home", e.Home)
	}
	return append(a, "node")
}

// argv is the whole command line, logging to LogFile when one is set.
func (e Entry) argv() []string {
	a := append([]string{e.Program}, e.NodeArgs()...)
	if e.LogFile != "" {
		a = append(a, "--log-file", e.LogFile)
	}
	return a
}
