package render

import (
	"errors"
	"slices"
	"testing"
)

func TestFindProgramPrefersPathThenInstallPlaces(t *testing.T) {
	onPath := func(string) (string, error) { return "/usr/bin/blender", nil }
	notOnPath := func(string) (string, error) { return "", errors.New("not found") }
	exists := func(set ...string) func(string) bool {
		return func(p string) bool { return slices.Contains(set, p) }
	}
	cands := []string{"/Applications/Blender.app/Contents/MacOS/Blender", "/Users/ada/Applications/Blender.app/Contents/MacOS/Blender"}
	if got := findProgram("blender", cands, onPath, exists(cands...)); got != "/usr/bin/blender" {
		t.Errorf("on PATH: %q", got)
	}
	if got := findProgram("blender", cands, notOnPath, exists(cands[1])); got != cands[1] {
		t.Errorf("second install place: %q", got)
	}
	if got := findProgram("blender", cands, notOnPath, exists()); got != "" {
		t.Errorf("nowhere: %q", got)
	}
}

func TestNewestFirst(t *testing.T) {
	in := []string{
		`C:\Program Files\Blender Foundation\Blender 3.6\blender.exe`,
		`C:\Program Files\Blender Foundation\Blender 4.10\blender.exe`,
		`C:\Program Files\Blender Foundation\Blender 4.2\blender.exe`,
		"/opt/blender-3.6.5-linux-x64/blender",
	}
	want := []string{in[1], in[2], in[3], in[0]}
	if got := NewestFirst(in); !slices.Equal(got, want) {
		t.Errorf("NewestFirst = %q\nwant %q", got, want)
	}
}
