package render

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// FindProgram is the executable to run for a renderer called name: the
// one on PATH, else the first of candidates (its usual install places on
// this system, newest first) that exists, else "" (the backend then
// reports it missing). Install places matter where PATH is thin: a node
// started at login by launchd sees only the system directories.
func FindProgram(name string, candidates []string) string {
	return findProgram(name, candidates, exec.LookPath, isExecutable)
}

func findProgram(name string, candidates []string, lookPath func(string) (string, error), isExec func(string) bool) string {
	if p, err := lookPath(name); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
		return p
	}
	for _, c := range candidates {
		if isExec(c) {
			return c
		}
	}
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && (fi.Mode()&0o111 != 0 || strings.HasSuffix(strings.ToLower(path), ".exe"))
}

// NewestFirst sorts paths whose directories carry a version ("Blender
// 4.2", "blender-3.6.5-linux-x64") from the highest version down,
// comparing numbers as numbers.
func NewestFirst(paths []string) []string {
	out := slices.Clone(paths)
	slices.SortStableFunc(out, func(a, b string) int { return compareVersions(versionOf(b), versionOf(a)) })
	return out
}

// versionOf is the numbers in path's parent directory's name.
func versionOf(path string) []int {
	dir := filepath.Base(filepath.Dir(strings.ReplaceAll(path, `\`, "/")))
	var v []int
	for _, f := range strings.FieldsFunc(dir, func(r rune) bool { return !unicode.IsDigit(r) }) {
		n, _ := strconv.Atoi(f)
		v = append(v, n)
	}
	return v
}

func compareVersions(a, b []int) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] - b[i]
		}
	}
	return len(a) - len(b)
}
