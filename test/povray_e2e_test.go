package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/render/rendertest"
)

// povScene writes dir/scene.pov, which includes a local inc/colors.inc
// (not POV-Ray's own colors.inc: it declares SwarmRed) and maps
// maps/checker.png on an unlit plane, behind a sphere that moves with the
// clock. It returns the scene's path.
func povScene(t *testing.T, dir string) string {
	t.Helper()
	if err := rendertest.WriteChecker(filepath.Join(dir, "maps", "checker.png"), texOrange, texTeal); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "inc", "colors.inc"), `// the scene's own palette, found before the system colors.inc
#declare SwarmRed = rgb <0.9, 0.1, 0.1>;
#declare White = rgb 1;
`)
	writeFile(t, filepath.Join(dir, "scene.pov"), `#version 3.7;
global_settings { assumed_gamma 1.0 }
#include "inc/colors.inc"
camera { location <0, 0, -4> look_at 0 right x*16/9 }
light_source { <3, 5, -6> White }
plane { z, 1
  pigment { image_map { png "maps/checker.png" } translate <-0.5, -0.5, 0> scale 4 }
  finish { ambient 1 diffuse 0 }
}
sphere { <-1 + clock * 0.5, 0, 0>, 0.6 pigment { SwarmRed } finish { phong 0.5 } }
`)
	return filepath.Join(dir, "scene.pov")
}

// A POV-Ray scene with a local #include and an image map at a relative
// path, published through two volunteers with two replicas: the fetched
// frames show the image map and equal `renderswarm render` pixel for pixel.
func TestPOVRayIncludeAndImageMapAcrossProcesses(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	requireRenderer(t, "povray")
	scene := povScene(t, t.TempDir())
	pub, _ := swarm(t, 2)
	waitVolunteers(t, pub, 2, "povray")
	args := []string{"--renderer", "povray", "--frames", "1-2", "--resolution", "96x54", "--samples", "4"}
	start := time.Now()
	id := publishScene(t, pub.home, scene, append(args, "--replicas", "2")...)
	st := waitCompleted(t, pub.home, id, start, 3*time.Minute)
	if st.Frames.Verified != 2 {
		t.Fatalf("completed with %+v", st.Frames)
	}
	grid := fetchJob(t, pub.home, id)
	local := renderLocal(t, scene, args...)
	for f := 1; f <= 2; f++ {
		img := samePixels(t, grid, local, f, "the grid's frame vs renderswarm render")
		n := img.Bounds().Dx() * img.Bounds().Dy()
		a, b := countNear(img, texOrange, 4), countNear(img, texTeal, 4)
		t.Logf("frame %d: %d orange, %d teal of %d pixels", f, a, b, n)
		if a < n/5 || b < n/5 {
			t.Errorf("frame %d does not show the image map: %d orange, %d teal of %d pixels", f, a, b, n)
		}
	}
	if a, b := decodePixels(t, filepath.Join(grid, frameName(1))), decodePixels(t, filepath.Join(grid, frameName(2))); countDiff(a, b) == 0 {
		t.Errorf("frames 1 and 2 are identical: the clock did not move the sphere")
	}
}

// A still split into 3 tiles, each rendered by two volunteers: the fetched
// frame equals `renderswarm render` of the whole frame pixel for pixel
// (antialiasing on, so tile edges matter).
func TestPOVRayTilesEqualWholeFrame(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	requireRenderer(t, "povray")
	scene := povScene(t, t.TempDir())
	pub, _ := swarm(t, 2)
	waitVolunteers(t, pub, 2, "povray")
	args := []string{"--renderer", "povray", "--resolution", "96x54", "--samples", "9"}
	start := time.Now()
	id := publishScene(t, pub.home, scene, append(args, "--tiles", "3", "--replicas", "2")...)
	st := waitCompleted(t, pub.home, id, start, 3*time.Minute)
	if st.Frames.Total != 3 {
		t.Errorf("a 3-tile still has %d tasks, want 3", st.Frames.Total)
	}
	grid := fetchJob(t, pub.home, id)
	local := renderLocal(t, scene, args...)
	img := samePixels(t, grid, local, 1, "the grid's stitched tiles vs renderswarm render of the whole frame")
	if b := img.Bounds(); b.Dx() != 96 || b.Dy() != 54 {
		t.Errorf("stitched frame is %v, want 96x54", b)
	}
}

// povrayExamples is where povray-examples installs its scenes.
func povrayExamples(t *testing.T) string {
	t.Helper()
	for _, d := range []string{"/usr/share/doc/povray/examples", "/usr/share/povray-3.7/scenes"} {
		if _, err := os.Stat(filepath.Join(d, "animations", "clockd", "clockd.ini")); err == nil {
			return d
		}
	}
	if os.Getenv("RENDERSWARM_REQUIRE_RENDERERS") == "1" {
		t.Fatal("povray-examples is required (RENDERSWARM_REQUIRE_RENDERERS=1) but animations/clockd/clockd.ini was not found")
	}
	t.Skip("povray-examples is not installed (apt-get install povray-examples)")
	return ""
}

// POV-Ray's clockd example animation, published through its .ini (the
// frame range, clock mapping and antialiasing come from the .ini), limited
// to 3 of its 20 frames: the fetched frames equal `renderswarm render` of
// the same .ini.
func TestPOVRayExampleAnimationAcrossProcesses(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	requireRenderer(t, "povray")
	src := filepath.Join(povrayExamples(t), "animations", "clockd")
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-r", src+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v %s", src, err, out)
	}
	ini := filepath.Join(dir, "clockd.ini")
	pub, _ := swarm(t, 2)
	waitVolunteers(t, pub, 2, "povray")
	args := []string{"--renderer", "povray", "--frames", "1-3", "--resolution", "80x60"}
	start := time.Now()
	id := publishScene(t, pub.home, ini, append(args, "--replicas", "2")...)
	st := waitCompleted(t, pub.home, id, start, 3*time.Minute)
	if st.Frames.Verified != 3 {
		t.Fatalf("completed with %+v", st.Frames)
	}
	grid := fetchJob(t, pub.home, id)
	local := renderLocal(t, ini, args...)
	entries, _ := os.ReadDir(grid)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 3 {
		t.Errorf("fetched %v, want frames 1-3", names)
	}
	for f := 1; f <= 3; f++ {
		samePixels(t, grid, local, f, "the grid's frame vs renderswarm render")
	}
	if t.Failed() {
		// Say whether the grid dropped the .ini's antialiasing: the
		// manifest cannot carry "the scene's own samples" (0) and the
		// publisher turns it into 1, which the backend renders as -A.
		noAA := renderLocal(t, ini, append(args, "--samples", "1")...)
		same := true
		for f := 1; f <= 3; f++ {
			same = same && countDiff(decodePixels(t, filepath.Join(grid, frameName(f))), decodePixels(t, filepath.Join(noAA, frameName(f)))) == 0
		}
		if same {
			t.Errorf("the grid rendered with antialiasing off (its frames equal renderswarm render --samples 1) although the .ini says Antialias=On")
		}
	}
	// The clock moves the hands: consecutive frames differ.
	if a, b := decodePixels(t, filepath.Join(grid, frameName(1))), decodePixels(t, filepath.Join(grid, frameName(3))); countDiff(a, b) == 0 {
		t.Errorf("frames 1 and 3 are identical (%s): the .ini's clock did not reach the renders", strings.Join(names, " "))
	}
}
