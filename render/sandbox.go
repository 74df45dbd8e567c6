package render

import (
	"path/filepath"
	"slices"
	"strings"
)

// ProgramDirs are the directories a sandbox that shows only the system
// directories must also show, read-only, for program to run: the
// program's own directory and that of its symlink target, when they are
// not under one of system (a renderer unpacked in /opt or a home, a
// wrapper script). Bind them after any private /tmp, or a program under
// /tmp is hidden.
func ProgramDirs(program string, system []string) []string {
	under := func(dir string) bool {
		for _, d := range system {
			if dir == d || strings.HasPrefix(dir, d+"/") {
				return true
			}
		}
		return false
	}
	var out []string
	dirs := []string{filepath.Dir(program)}
	if real, err := filepath.EvalSymlinks(program); err == nil {
		dirs = append(dirs, filepath.Dir(real))
	}
	for _, d := range dirs {
		if d, err := filepath.Abs(d); err == nil && !under(d) && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}
