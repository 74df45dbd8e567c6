package povray

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/render/rendertest"
)

// TestWriteOutsideOutputDir: in the sandbox a scene writes nothing outside
// its scratch space, neither at a literal path nor at one it computes at
// parse time (which no text scan sees), neither beside the scene, into
// the scene directory nor into /tmp.
func TestWriteOutsideOutputDir(t *testing.T) {
	b := needPOVRay(t)
	rendertest.RequireSandbox(t, b)
	dir := t.TempDir()
	victimDir := t.TempDir()
	victims := []string{filepath.Join(victimDir, "escape.txt"), filepath.Join(dir, "into-scene.txt"),
		filepath.Join(os.TempDir(), "renderswarm-povray-escape-test.txt"),
		filepath.Join(victimDir, "computed.txt"), filepath.Join(dir, "computed-scene.txt")}
	os.Remove(victims[2])
	var src strings.Builder
	for i, v := range victims {
		name := `"` + v + `"`
		if strings.Contains(v, "computed") { // split so no literal holds the path
			name = `concat("` + v[:len(v)/2] + `", "` + v[len(v)/2:] + `")`
		}
		src.WriteString("#fopen F" + string(rune('A'+i)) + " " + name + "\n write\n")
		src.WriteString("#write (F" + string(rune('A'+i)) + `, "pwned\n")` + "\n")
	}
	src.WriteString("camera { location <0,0,-3> look_at 0 } sphere { 0, 1 pigment { rgb 1 } } light_source { <1,2,-3> rgb 1 }\n")
	writeFile(t, filepath.Join(dir, "w.pov"), src.String())
	out := t.TempDir()
	_, err := b.Render(t.Context(), render.Task{
		SceneDir: dir, SceneFile: "w.pov", Frame: 1, Width: 16, Height: 12, OutputDir: out,
	}, nil)
	t.Logf("render: %v", err)
	if err == nil || !strings.Contains(err.Error(), "Cannot open user file") {
		t.Errorf("err = %v, want povray refused to open the first file for writing", err)
	}
	for _, v := range victims {
		if _, serr := os.Stat(v); serr == nil {
			os.Remove(v)
			t.Errorf("the scene wrote %s", v)
		}
	}
}

func TestHangingSceneCancelled(t *testing.T) {
	b := needPOVRay(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "hang.pov"), "#declare I = 0;\n#while (1)\n  #declare I = I + 1;\n#end\n")
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	out := t.TempDir()
	start := time.Now()
	_, err := b.Render(ctx, render.Task{
		SceneDir: dir, SceneFile: "hang.pov", Frame: 1, Width: 16, Height: 12, OutputDir: out,
	}, nil)
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("Render took %v with a 1.5 s deadline", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
	if es, _ := os.ReadDir(out); len(es) != 0 {
		t.Errorf("left %d files in the output dir", len(es))
	}
	if out, _ := exec.Command("pgrep", "-f", filepath.Join(dir, "hang.pov")).Output(); len(out) != 0 {
		t.Errorf("povray still running: pids %s", out)
	}
}

// TestWriteOutsideOutputDirUnsandboxed: without bubblewrap (the node's
// user opted in, or the publisher's own scenes) the extra static check
// refuses a scene that opens a file for writing at all — also when the
// path is computed, the mode on its own line, or the scene writes only
// relative names. It is not what keeps strangers' scenes out (that is
// the sandbox policy); this only shows it does what it says.
func TestWriteOutsideOutputDirUnsandboxed(t *testing.T) {
	b := needPOVRay(t)
	b.NoSandbox = true
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "escape.txt")
	writeFile(t, filepath.Join(dir, "w.pov"), `#fopen F "`+victim+`" write
#write (F, "pwned\n")
camera { location <0,0,-3> look_at 0 } sphere { 0, 1 pigment { rgb 1 } } light_source { <1,2,-3> rgb 1 }
`)
	writeFile(t, filepath.Join(dir, "w2.pov"), `#fopen F concat("es", "cape.txt") append
camera { location <0,0,-3> look_at 0 } sphere { 0, 1 pigment { rgb 1 } } light_source { <1,2,-3> rgb 1 }
`)
	writeFile(t, filepath.Join(dir, "w3.pov"), `#macro Mode() append #end
#fopen F concat("`+filepath.Dir(victim)+`", "/esc", "ape.tx", "t")
  Mode()
camera { location <0,0,-3> look_at 0 } sphere { 0, 1 pigment { rgb 1 } } light_source { <1,2,-3> rgb 1 }
`)
	for _, f := range []string{"w.pov", "w2.pov", "w3.pov"} {
		_, err := b.Render(t.Context(), render.Task{
			SceneDir: dir, SceneFile: f, Frame: 1, Width: 16, Height: 12, OutputDir: t.TempDir(),
		}, nil)
		if err == nil {
			t.Errorf("%s: rendered without a sandbox", f)
		}
		t.Logf("%s: %v", f, err)
	}
	if _, err := os.Stat(victim); err == nil {
		t.Errorf("the scene wrote %s", victim)
	}
	if _, err := os.Stat(filepath.Join(dir, "escape.txt")); err == nil {
		t.Errorf("the scene wrote into its scene dir")
	}
}

// TestSandboxHidesFiles: inside bubblewrap a scene cannot read files
// outside its directory and the system dirs (e.g. the node's home), by a
// path it computes: povray cannot open the file, and the failure says so
// and nothing of the file. The control: the same scene reading a file in
// its own directory by a computed path renders.
func TestSandboxHidesFiles(t *testing.T) {
	b := needPOVRay(t)
	rendertest.RequireSandbox(t, b)
	secret := filepath.Join(t.TempDir(), "secret.txt")
	writeFile(t, secret, "\"s3cret\"\n")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "inside.txt"), "\"visible\"\n")
	scene := func(path string) string {
		return `#declare P = concat("` + path[:len(path)/2] + `", "` + path[len(path)/2:] + `");
#fopen F P read
#read (F, S)
#fclose F
camera { location <0,0,-3> look_at 0 } sphere { 0, 1 pigment { rgb 1 } } light_source { <1,2,-3> rgb 1 }
`
	}
	writeFile(t, filepath.Join(dir, "r.pov"), scene(secret))
	writeFile(t, filepath.Join(dir, "ok.pov"), scene(filepath.Join(dir, "inside.txt")))
	task := render.Task{SceneDir: dir, SceneFile: "ok.pov", Frame: 1, Width: 16, Height: 12, OutputDir: t.TempDir()}
	if _, err := b.Render(t.Context(), task, nil); err != nil {
		t.Fatalf("control: reading a file in the scene directory by a computed path: %v", err)
	}
	task.SceneFile, task.OutputDir = "r.pov", t.TempDir()
	_, err := b.Render(t.Context(), task, nil)
	t.Logf("render: %v", err)
	if !errors.Is(err, render.ErrSceneInvalid) || !strings.Contains(err.Error(), "File 'r.pov' line 2: Parse Error: Cannot open user file") {
		t.Errorf("err = %v, want povray unable to open the file at r.pov line 2", err)
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the failure carries the file's content: %v", err)
	}
}

// TestFailureCarriesNoFileContent: a scene that #includes a local file by
// a path it computes (here one with a secret as its first word) fails,
// and the failure reason — what a volunteer sends the publisher — names
// the line and the kind of error but not the word, sandboxed (the file is
// not there) and not (POV-Ray reads it).
func TestFailureCarriesNoFileContent(t *testing.T) {
	ref := needPOVRay(t)
	secret := filepath.Join(t.TempDir(), "notes.txt")
	writeFile(t, secret, "TOPSECRET123 and more\n")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "i.pov"), `#declare P = concat("`+secret[:5]+`", "`+secret[5:]+`");
#include P
camera { location <0,0,-3> look_at 0 } sphere { 0, 1 pigment { rgb 1 } } light_source { <1,2,-3> rgb 1 }
`)
	for _, b := range []*Backend{ref, {NoSandbox: true}} {
		_, err := b.Render(t.Context(), render.Task{
			SceneDir: dir, SceneFile: "i.pov", Frame: 1, Width: 16, Height: 12, OutputDir: t.TempDir(),
		}, nil)
		t.Logf("sandbox disabled %v: %v", b.NoSandbox, err)
		if err == nil || !strings.Contains(err.Error(), "line 1: Parse Error") && !strings.Contains(err.Error(), "line 2: Parse Error") {
			t.Errorf("sandbox disabled %v: err = %v, want a parse error naming its line", b.NoSandbox, err)
		}
		if err != nil && strings.Contains(err.Error(), "TOPSECRET") {
			t.Errorf("sandbox disabled %v: the failure carries the file's content: %v", b.NoSandbox, err)
		}
	}
}

// TestOutputLimit: a scene that writes more than its task's output limit
// (into its scratch space, the only place it may write) fails saying so;
// under the default limit the same scene renders.
func TestOutputLimit(t *testing.T) {
	b := needPOVRay(t)
	rendertest.RequireSandbox(t, b)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "big.pov"), `#fopen F "cache.txt" write
#declare I = 0;
#while (I < 40000) #write (F, "0123456789012345678901234567890123456789012345678901234567890123456789\n") #declare I = I + 1; #end
#fclose F
camera { location <0,0,-3> look_at 0 } sphere { 0, 1 pigment { rgb 1 } } light_source { <1,2,-3> rgb 1 }
`)
	task := render.Task{SceneDir: dir, SceneFile: "big.pov", Frame: 1, Width: 16, Height: 12, OutputDir: t.TempDir()}
	if _, err := b.Render(t.Context(), task, nil); err != nil {
		t.Fatalf("under the default output limit: %v", err)
	}
	task.OutputDir, task.OutputLimit = t.TempDir(), 1<<20
	_, err := b.Render(t.Context(), task, nil)
	t.Logf("2.8 MB written under a 1 MiB limit: %v", err)
	if !errors.Is(err, render.ErrTaskInvalid) || !strings.Contains(err.Error(), "output limit") {
		t.Errorf("err = %v, want ErrTaskInvalid naming the output limit", err)
	}
	if es, _ := os.ReadDir(task.OutputDir); len(es) != 0 {
		t.Errorf("left %d files in the output dir", len(es))
	}
}

func TestMemoryLimit(t *testing.T) {
	b := needPOVRay(t)
	dir := t.TempDir()
	// About 2.4 GB of floats.
	writeFile(t, filepath.Join(dir, "big.pov"), `#declare A = array[300000000];
#declare I = 0;
#while (I < 300000000) #declare A[I] = I; #declare I = I + 1; #end
`)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	start := time.Now()
	_, err := b.Render(ctx, render.Task{
		SceneDir: dir, SceneFile: "big.pov", Frame: 1, Width: 16, Height: 12, OutputDir: t.TempDir(),
		MemoryLimit: 512 << 20,
	}, nil)
	if !errors.Is(err, render.ErrTaskInvalid) {
		t.Errorf("err = %v, want povray to fail at the memory limit (ErrTaskInvalid)", err)
	}
	t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
}

// TestCancelWhileRendering cancels once povray reports rendered pixels.
func TestCancelWhileRendering(t *testing.T) {
	b := needPOVRay(t)
	if testing.Short() {
		t.Skip("slow")
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := t.TempDir()
	var cancelled time.Time
	_, err := b.Render(ctx, render.Task{
		SceneDir: "testdata", SceneFile: "anim.ini", Frame: 2, Width: 640, Height: 480, Samples: 81, OutputDir: out,
	}, func(p render.Progress) {
		if p.Fraction > 0.05 && cancelled.IsZero() {
			cancelled = time.Now()
			cancel()
		}
	})
	if cancelled.IsZero() {
		t.Fatalf("never saw rendering progress (err %v)", err)
	}
	if took := time.Since(cancelled); took > 2*time.Second {
		t.Errorf("returned %v after cancellation", took)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if es, _ := os.ReadDir(out); len(es) != 0 {
		t.Errorf("left %d files in the output dir", len(es))
	}
}

// TestRelativeWritesAndShadowing: a scene writing a relative file (a
// cache, an HTML index) renders in the sandbox, the file lands in the
// scratch dir and disappears; a local colors.inc shadows the system one,
// as when povray runs in the scene's directory.
func TestRelativeWritesAndShadowing(t *testing.T) {
	b := needPOVRay(t)
	rendertest.RequireSandbox(t, b)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "colors.inc"), "#declare LocalColors = rgb <0, 1, 0>;\n")
	writeFile(t, filepath.Join(dir, "data.txt"), "0.5,\n")
	writeFile(t, filepath.Join(dir, "s.pov"), `#version 3.7;
#include "colors.inc"
#fopen R "data.txt" read
#read (R, V)
#fopen W "cache.txt" write
#write (W, "cached\n")
#fclose W
background { LocalColors * V }
camera { location <0,0,-3> look_at 0 }
`)
	before := snapshotDir(t, dir)
	out := t.TempDir()
	res, err := b.Render(t.Context(), render.Task{
		SceneDir: dir, SceneFile: "s.pov", Frame: 1, Width: 8, Height: 6, OutputDir: out,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, g, bl, _ := decode(t, res.Path).At(3, 3).RGBA()
	if r != 0 || bl != 0 || g == 0 {
		t.Errorf("background %d,%d,%d: want the local colors.inc's green", r>>8, g>>8, bl>>8)
	}
	if after := snapshotDir(t, dir); after != before {
		t.Errorf("scene dir changed:\n%s\n%s", before, after)
	}
	if es, _ := os.ReadDir(out); len(es) != 1 {
		t.Errorf("output dir holds %d entries, want only frame.png", len(es))
	}
}

func snapshotDir(t *testing.T, dir string) string {
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range es {
		fi, _ := e.Info()
		b.WriteString(e.Name() + " " + fi.ModTime().String() + "\n")
	}
	return b.String()
}

// TestBwrapBrokenFallsBack: when bwrap cannot create its namespaces (a
// fake bwrap failing here), Render runs povray without it, once logged,
// and gives the same pixels.
func TestBwrapBrokenFallsBack(t *testing.T) {
	ref := needPOVRay(t)
	if testing.Short() {
		t.Skip("slow")
	}
	povray, err := exec.LookPath("povray")
	if err != nil {
		t.Skip(err)
	}
	bin := t.TempDir()
	writeFile(t, filepath.Join(bin, "bwrap"), "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
	if err := os.Chmod(filepath.Join(bin, "bwrap"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	var logged strings.Builder
	b := &Backend{Program: povray, Logger: slog.New(slog.NewTextHandler(&logged, nil))}
	if b.sandbox() != "" {
		t.Fatal("a failing bwrap was accepted")
	}
	if !strings.Contains(logged.String(), "msg=sandboxUnavailable") {
		t.Errorf("no fallback notice logged: %q", logged.String())
	}
	task := render.Task{SceneDir: "testdata", SceneFile: "anim.ini", Frame: 4, Width: 24, Height: 18,
		Border: &render.Rect{X0: 3, Y0: 2, X1: 20, Y1: 11}}
	task.OutputDir = t.TempDir()
	got, err := b.Render(t.Context(), task, nil)
	if err != nil {
		t.Fatal(err)
	}
	task.OutputDir = t.TempDir()
	want, err := ref.Render(t.Context(), task, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, c := decode(t, got.Path), decode(t, want.Path)
	for y := range 9 {
		for x := range 17 {
			if a.At(x, y) != c.At(x, y) {
				t.Fatalf("unsandboxed pixel %d,%d differs", x, y)
			}
		}
	}
}

// TestSandboxStartRetried: bubblewrap failing to start for a moment (as
// it did on a loaded machine: "bwrap: No permissions to create new
// namespace") neither turns the sandbox off nor fails the render; it is
// run again. One that keeps failing fails the render with
// render.ErrSandboxStart.
func TestSandboxStartRetried(t *testing.T) {
	b := needPOVRay(t)
	rendertest.RequireSandbox(t, b)
	real, err := exec.LookPath("bwrap")
	if err != nil {
		t.Fatal(err)
	}
	bin, count := t.TempDir(), filepath.Join(t.TempDir(), "count")
	fake := filepath.Join(bin, "bwrap")
	writeFile(t, fake, "#!/bin/sh\nn=$(cat "+count+" 2>/dev/null || echo 0)\necho $((n+1)) > "+count+
		"\nif [ $n -eq 0 ] || [ $n -eq 3 ]; then echo 'bwrap: No permissions to create new namespace' >&2; exit 1; fi\nexec "+real+` "$@"`+"\n")
	if err := os.Chmod(fake, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	var logged strings.Builder
	b = &Backend{Logger: slog.New(slog.NewTextHandler(&logged, nil))}
	if ok, why := b.Sandboxed(); !ok { // the probe's first run fails
		t.Fatalf("a sandbox that failed to start once was turned off: %s", why)
	}
	task := render.Task{SceneDir: "testdata", SceneFile: "anim.ini", Frame: 4, Width: 24, Height: 18, OutputDir: t.TempDir()}
	if _, err := b.Render(t.Context(), task, nil); err != nil { // its first run fails
		t.Fatalf("a render whose sandbox failed to start once: %v", err)
	}
	if data, _ := os.ReadFile(count); strings.TrimSpace(string(data)) != "5" {
		t.Errorf("bwrap ran %s times, want 5 (the probe's first run, its two again, the render twice)", data)
	}

	writeFile(t, fake, "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
	task.OutputDir = t.TempDir()
	if _, err := b.Render(t.Context(), task, nil); !errors.Is(err, render.ErrSandboxStart) {
		t.Fatalf("a sandbox that never starts: %v, want ErrSandboxStart", err)
	}
}

// TestSceneCannotPoseAsSandboxFailure: a scene that prints bubblewrap's
// words (#debug) and then fails is the scene's failure, reported once,
// not a sandbox that failed to start, run again.
func TestSceneCannotPoseAsSandboxFailure(t *testing.T) {
	b := needPOVRay(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "d.pov"), "#debug \"bwrap: No permissions to create new namespace\\n\"\nsphere { 0, 1 pigment { rgb 1 } \nbogus 1\n")
	_, err := b.Render(t.Context(), render.Task{SceneDir: dir, SceneFile: "d.pov", Frame: 1, Width: 8, Height: 8, OutputDir: t.TempDir()}, nil)
	if !errors.Is(err, render.ErrSceneInvalid) || errors.Is(err, render.ErrSandboxStart) {
		t.Fatalf("err = %v, want ErrSceneInvalid and not ErrSandboxStart", err)
	}
}
