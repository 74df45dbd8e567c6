package builtin

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/examples"
	"github.com/renderswarm/renderswarm/render"
)

// A renderer keeps a loaded scene for its next renders, and loads it again
// once one of its files changed: an edited mesh shows in the next frame.
func TestSceneCacheSeesEditedFiles(t *testing.T) {
	dir := t.TempDir()
	if err := examples.WriteBuiltin(dir); err != nil {
		t.Fatal(err)
	}
	r := New()
	frame := func() []byte {
		t.Helper()
		task := render.Task{SceneDir: dir, SceneFile: examples.DemoScene, OutputDir: t.TempDir(),
			Frame: 1, Width: 48, Height: 27, Samples: 1, Threads: 1}
		res, err := r.Render(t.Context(), task, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(res.Path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := frame()
	if len(r.scenes.entries) != 1 {
		t.Fatalf("%d scenes cached after a render, want 1", len(r.scenes.entries))
	}
	cached := r.scenes.entries[0].sc
	if !bytes.Equal(frame(), first) {
		t.Fatal("the same frame rendered twice differs")
	}
	if r.scenes.entries[0].sc != cached {
		t.Fatal("the second render loaded the scene again")
	}
	// Shrink the knot: its mesh file changes, the scene file does not.
	mesh := filepath.Join(dir, "knot.obj")
	src, err := os.ReadFile(mesh)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.ReplaceAll(src, []byte("v "), []byte("v 0.5 "))
	if bytes.Equal(edited, src) {
		t.Fatal("knot.obj has no vertices to edit")
	}
	if err := os.WriteFile(mesh, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	os.Chtimes(mesh, later, later)
	if bytes.Equal(frame(), first) {
		t.Fatal("a frame rendered after the mesh changed equals the one before")
	}
	if r.scenes.entries[0].sc == cached {
		t.Fatal("the edited scene was taken from the cache")
	}
}
