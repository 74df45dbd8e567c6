package blender

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestInstallPathsPerSystem(t *testing.T) {
	env := map[string]string{
		"ProgramFiles":      `C:\Program Files`,
		"ProgramW6432":      `C:\Program Files`,
		"ProgramFiles(x86)": `C:\Program Files (x86)`,
		"HOME":              "/Users/ada",
	}
	var patterns []string
	glob := func(p string) ([]string, error) {
		patterns = append(patterns, p)
		switch p {
		case `C:\Program Files\Blender Foundation\Blender*\blender.exe`:
			return []string{`C:\Program Files\Blender Foundation\Blender 3.6\blender.exe`, `C:\Program Files\Blender Foundation\Blender 4.2\blender.exe`}, nil
		case "/opt/blender*/blender":
			return []string{"/opt/blender-4.2.1-linux-x64/blender"}, nil
		}
		return nil, nil
	}
	for goos, want := range map[string][]string{
		"windows": {
			`C:\Program Files\Blender Foundation\Blender 4.2\blender.exe`,
			`C:\Program Files\Blender Foundation\Blender 3.6\blender.exe`,
			`C:\Program Files (x86)\Steam\steamapps\common\Blender\blender.exe`,
		},
		"darwin": {"/Applications/Blender.app/Contents/MacOS/Blender", filepath.FromSlash("/Users/ada/Applications/Blender.app/Contents/MacOS/Blender")},
		"linux":  {"/snap/bin/blender", "/opt/blender-4.2.1-linux-x64/blender"},
	} {
		got := InstallPaths(goos, func(k string) string { return env[k] }, glob)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %q\nwant %q", goos, got, want)
		}
	}
}
