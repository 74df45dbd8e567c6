package publisher

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
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
	for _, f := range []string{"shots/s1/shot.scene", "shots/s1/mesh.obj", "shots/s1/textures/wood.png", "shots/s1/unrelated.txt"} {
		os.MkdirAll(filepath.Join(src, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(src, f), []byte(f), 0o644)
	}
	// A link that stays inside the folder is packed as the file it names.
	os.Symlink("wood.png", filepath.Join(src, "shots/s1/textures/oak.png"))
	b := inspectOnly{files: []string{"textures/wood.png", "textures/oak.png", "mesh.obj"}}
	p, err := packScene(context.Background(), b, filepath.Join(src, "shots/s1/shot.scene"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if p.Main != "shot.scene" {
		t.Fatalf("main = %q", p.Main)
	}
	got := listTree(t, p.Dir)
	want := []string{"mesh.obj", "shot.scene", "textures/oak.png", "textures/wood.png"}
	if len(got) != len(want) {
		t.Fatalf("packed %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("packed %v, want %v", got, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(p.Dir, "textures/oak.png")); string(b) != "shots/s1/textures/wood.png" {
		t.Errorf("linked file packed as %q", b)
	}
}

// TestPackSceneNeverLeavesTheFolder: whatever the backend asks for, a file
// outside the scene folder — by "../", an absolute path, a link to a file
// or to a directory elsewhere, or a main file that is such a link — is
// refused in one line naming it, and nothing is staged.
func TestPackSceneNeverLeavesTheFolder(t *testing.T) {
	outside := t.TempDir()
	os.MkdirAll(filepath.Join(outside, "dir"), 0o755)
	os.WriteFile(filepath.Join(outside, "secret.png"), []byte("secret"), 0o644)
	os.WriteFile(filepath.Join(outside, "dir", "x.png"), []byte("secret"), 0o644)
	os.WriteFile(filepath.Join(outside, "main.scene"), []byte("secret"), 0o644)
	for name, tc := range map[string]struct {
		files       []string
		link, to    string
		main, shown string
	}{
		"dot-dot":         {files: []string{"../secret.png"}, shown: "../secret.png"},
		"absolute":        {files: []string{filepath.Join(outside, "secret.png")}, shown: "secret.png"},
		"linked file":     {files: []string{"tex/a.png"}, link: "tex/a.png", to: "secret.png", shown: "tex/a.png"},
		"linked dir":      {files: []string{"maps/x.png"}, link: "maps", to: "dir", shown: "maps/x.png"},
		"linked main":     {link: "s.scene", to: "main.scene", main: "s.scene", shown: "s.scene"},
		"relative link":   {files: []string{"up.png"}, link: "up.png", to: "REL", shown: "up.png"},
		"main is missing": {main: "nope.scene", shown: "nope.scene"},
	} {
		t.Run(name, func(t *testing.T) {
			src := t.TempDir()
			os.WriteFile(filepath.Join(src, "a.scene"), []byte("x"), 0o644)
			if tc.link != "" {
				os.MkdirAll(filepath.Dir(filepath.Join(src, tc.link)), 0o755)
				target := filepath.Join(outside, tc.to)
				if tc.to == "REL" {
					target, _ = filepath.Rel(src, filepath.Join(outside, "secret.png"))
				}
				if err := os.Symlink(target, filepath.Join(src, tc.link)); err != nil {
					t.Fatal(err)
				}
			}
			main := tc.main
			if main == "" {
				main = "a.scene"
			}
			tmp := t.TempDir()
			_, err := packScene(context.Background(), inspectOnly{files: tc.files}, filepath.Join(src, main), tmp)
			if err == nil || !strings.Contains(err.Error(), tc.shown) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line naming %s", err, tc.shown)
			}
			if got := listTree(t, tmp); len(got) != 0 {
				t.Errorf("staged %v", got)
			}
		})
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
