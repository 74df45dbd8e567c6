package render

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestProgramDirs(t *testing.T) {
	system := []string{"/usr", "/bin"}
	if got := ProgramDirs("/usr/bin/povray", system); len(got) != 0 {
		t.Errorf("system program: %v, want none", got)
	}
	dir := t.TempDir()
	real := filepath.Join(dir, "opt", "blender-4.2", "blender")
	link := filepath.Join(dir, "bin", "blender")
	for _, d := range []string{filepath.Dir(real), filepath.Dir(link)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(real, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	got := ProgramDirs(link, system)
	realDir, _ := filepath.EvalSymlinks(filepath.Dir(real))
	if !slices.Contains(got, filepath.Dir(link)) || !slices.Contains(got, realDir) {
		t.Errorf("linked program: %v, want %s and %s", got, filepath.Dir(link), realDir)
	}
}
