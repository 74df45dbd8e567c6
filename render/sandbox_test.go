package render

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
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

func TestCheckInside(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "scene")
	outside := filepath.Join(root, "outside")
	for _, d := range []string{filepath.Join(dir, "sub"), outside} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(filepath.Join(outside, "f"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "real"), []byte("x"), 0o644)
	os.Symlink(filepath.Join(outside, "f"), filepath.Join(dir, "out-file"))
	os.Symlink(outside, filepath.Join(dir, "out-dir"))
	os.Symlink("../sub/real", filepath.Join(dir, "sub", "up-and-in"))
	os.Symlink("sub", filepath.Join(dir, "in-dir"))
	os.Symlink("../outside/f", filepath.Join(dir, "relative-out"))
	for rel, ok := range map[string]bool{
		"sub/real": true, "sub/up-and-in": true, "in-dir/real": true, "missing": true,
		"out-file": false, "out-dir/f": false, "relative-out": false, "../outside/f": false,
	} {
		err := CheckInside(dir, rel)
		if ok != (err == nil) {
			t.Errorf("%s: %v, want inside %v", rel, err, ok)
		}
		if err != nil && (!errors.Is(err, ErrSceneInvalid) || !errors.Is(err, ErrOutsideScene) || !strings.Contains(err.Error(), rel)) {
			t.Errorf("%s: %v, want ErrSceneInvalid and ErrOutsideScene naming it", rel, err)
		}
	}
	// The folder itself reached through a link is fine.
	os.Symlink(dir, filepath.Join(root, "link-to-scene"))
	if err := CheckInside(filepath.Join(root, "link-to-scene"), "sub/real"); err != nil {
		t.Errorf("through a linked folder: %v", err)
	}
}

// TestStartLimits: a program started with limits runs under them (a
// shell reports its own), and one past its file size limit is stopped.
func TestStartLimits(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("prlimit(2) is Linux-only")
	}
	cmd := exec.Command("/bin/sh", "-c", `ulimit -v; ulimit -f; head -c 3000 /dev/zero > "$0"`, filepath.Join(t.TempDir(), "big"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := Start(cmd, Limits{Memory: 256 << 20, FileSize: 2048}); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	// ulimit -v is in KiB; dash's ulimit -f in 512-byte blocks, bash's in KiB.
	if lines := strings.Fields(out.String()); len(lines) < 2 || lines[0] != "262144" || (lines[1] != "4" && lines[1] != "2") {
		t.Errorf("limits seen by the program: %q", out.String())
	}
	if !FileTooLarge(err) {
		t.Errorf("writing 3000 bytes under a 2048-byte limit: %v, want SIGXFSZ", err)
	}
}

func TestWatchSize(t *testing.T) {
	dir := t.TempDir()
	over := make(chan struct{})
	stop := WatchSize(dir, 1000, func() { close(over) })
	os.WriteFile(filepath.Join(dir, "a"), make([]byte, 600), 0o644)
	os.MkdirAll(filepath.Join(dir, "d"), 0o755)
	os.WriteFile(filepath.Join(dir, "d", "b"), make([]byte, 600), 0o644)
	select {
	case <-over:
	case <-time.After(5 * time.Second):
		t.Fatal("1200 bytes under a 1000-byte limit not noticed")
	}
	if !stop() {
		t.Error("stop did not report the overflow")
	}
	if stop := WatchSize(dir, 1<<20, func() { t.Error("called under the limit") }); stop() {
		t.Error("overflow reported under the limit")
	}
}
