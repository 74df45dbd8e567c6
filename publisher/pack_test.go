package publisher

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/renderswarm/renderswarm/render"
)

// inspectOnly is a backend whose scenes depend on fixed files.
type inspectOnly struct {
	render.Backend
	files []string
}

func (b inspectOnly) Inspect(context.Context, string) (render.SceneInfo, error) {
	return render.SceneInfo{Files: b.files}, nil
}

func listTree(t *testing.T, root string) []string {
	var out []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func TestPackSceneKeepsRelativeLayout(t *testing.T) {
	src := t.TempDir()
	for _, f := range []string{"shots/s1/shot.scene", "shots/s1/mesh.obj", "textures/wood.png", "unrelated.txt"} {
		os.MkdirAll(filepath.Join(src, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(src, f), []byte(f), 0o644)
	}
	b := inspectOnly{files: []string{"../../textures/wood.png", "mesh.obj"}}
	p, err := packScene(context.Background(), b, filepath.Join(src, "shots/s1/shot.scene"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if p.Main != "shots/s1/shot.scene" {
		t.Fatalf("main = %q", p.Main)
	}
	got := listTree(t, p.Dir)
	want := []string{"shots/s1/mesh.obj", "shots/s1/shot.scene", "textures/wood.png"}
	if len(got) != len(want) {
		t.Fatalf("packed %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("packed %v, want %v", got, want)
		}
	}
}

func TestPackSceneErrors(t *testing.T) {
	src := t.TempDir()
	scene := filepath.Join(src, "a.scene")
	os.WriteFile(scene, []byte("x"), 0o644)
	for name, tc := range map[string]struct {
		scene string
		files []string
	}{
		"missing scene":      {filepath.Join(src, "nope.scene"), nil},
		"scene is a dir":     {src, nil},
		"missing dependency": {scene, []string{"mesh.obj"}},
		"absolute dep":       {scene, []string{"/etc/passwd"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := packScene(context.Background(), inspectOnly{files: tc.files}, tc.scene, t.TempDir())
			if err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
