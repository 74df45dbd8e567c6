package blender

import (
	"bytes"
	"image"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/render"
)

func TestChunkSize(t *testing.T) {
	for _, tc := range []struct {
		per  time.Duration
		want int
	}{
		{0, maxChunk}, {time.Second, maxChunk}, {5 * time.Second, 24}, {time.Minute, 2},
		{2 * time.Minute, 1}, {10 * time.Minute, 1},
	} {
		if got := chunkSize(tc.per); got != tc.want {
			t.Errorf("chunkSize(%v) = %d, want %d", tc.per, got, tc.want)
		}
	}
}

// Three frames of an animation, a border crop of one (a publisher's crop
// check) and a frame with an OpenEXR beside it, rendered one after another
// by one Backend, run in one Blender process, and give the same pixels as
// a fresh Blender per task.
func TestChunkedRendersMatchFreshProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	f := getFixtures(t)
	chunked, fresh := New(), &Backend{NoChunks: true}
	defer chunked.Close()
	task := func(frame int) render.Task {
		return render.Task{SceneDir: filepath.Join(f.dir, "scene"), SceneFile: "anim.blend", Frame: frame,
			Width: 40, Height: 30, Samples: 4, Seed: 7, Threads: 1, OutputDir: t.TempDir()}
	}
	tasks := []render.Task{task(1), task(2), task(3), task(2), task(3)}
	tasks[3].Border = &render.Rect{X0: 8, Y0: 5, X1: 30, Y1: 20}
	tasks[4].Extras = []string{"exr"}
	var imgs []image.Image
	for i, tk := range tasks {
		a, err := renderFile(t, chunked, tk)
		if err != nil {
			t.Fatalf("task %d chunked: %v", i, err)
		}
		tk.OutputDir = t.TempDir()
		b, err := renderFile(t, fresh, tk)
		if err != nil {
			t.Fatalf("task %d fresh: %v", i, err)
		}
		if n := diff(a, b); n != 0 {
			t.Errorf("task %d (frame %d): %d pixels differ between the kept Blender and a fresh one", i, tk.Frame, n)
		}
		imgs = append(imgs, a)
		if len(tk.Extras) > 0 {
			ea, err1 := os.ReadFile(filepath.Join(tasks[i].OutputDir, "frame_0003.exr"))
			eb, err2 := os.ReadFile(filepath.Join(tk.OutputDir, "frame_0003.exr"))
			if err1 != nil || err2 != nil || !bytes.Equal(ea, eb) {
				t.Errorf("the EXRs of two renders of one frame differ (%v, %v): their render times should be zeroed", err1, err2)
			}
		}
	}
	if diff(imgs[0], imgs[2]) == 0 {
		t.Error("frames 1 and 3 are the same image; the test would prove nothing")
	}
	if n := chunked.servers.starts.Load(); n != 1 {
		t.Errorf("%d tasks of one scene started %d Blender processes, want 1", len(tasks), n)
	}
}

// A .blend changed on disk is rendered as it is now, not as a kept
// Blender loaded it.
func TestEditedSceneGetsANewProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	f := getFixtures(t)
	dir := filepath.Join(t.TempDir(), "scene")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(f.dir, "scene"))); err != nil {
		t.Fatal(err)
	}
	blend := filepath.Join(dir, "anim.blend")
	b := New()
	defer b.Close()
	task := render.Task{SceneDir: dir, SceneFile: "anim.blend", Frame: 1, Width: 16, Height: 12, Samples: 1, Threads: 1, OutputDir: t.TempDir()}
	if _, err := renderFile(t, b, task); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	os.Chtimes(blend, later, later)
	task.OutputDir = t.TempDir()
	if _, err := renderFile(t, b, task); err != nil {
		t.Fatal(err)
	}
	if n := b.servers.starts.Load(); n != 2 {
		t.Errorf("a rewritten .blend was rendered by %d processes in all, want 2 (a new one)", n)
	}
}
