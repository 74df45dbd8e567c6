package publisher

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/renderswarm/renderswarm/render"
)

// rootInspector is a backend that knows projects: its scene's files are
// relative to the root it is given.
type rootInspector struct {
	inspectOnly
	rootFiles []string
}

func (b rootInspector) InspectRoot(context.Context, string, string) (render.SceneInfo, error) {
	return render.SceneInfo{Files: b.rootFiles}, nil
}

func writeTree(t *testing.T, root string, files ...string) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A shot in shots/ using a library in lib/ and the texture beside it, with
// the project as root: the staged tree is the project's layout (only what
// the shot uses), the main file at its place in it.
func TestPackProjectKeepsTheProjectLayout(t *testing.T) {
	project := filepath.Join(t.TempDir(), "film")
	writeTree(t, project, "shots/shot.blend", "lib/props.blend", "lib/tex/wood.png", "lib/unused.png", "notes.txt")
	b := rootInspector{rootFiles: []string{"lib/props.blend", "lib/tex/wood.png"}}
	p, err := packProject(context.Background(), b, filepath.Join(project, "shots/shot.blend"), project, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if p.Main != "shots/shot.blend" || filepath.Base(p.Dir) != "film" {
		t.Errorf("main %q in %s, want shots/shot.blend in a folder named film", p.Main, p.Dir)
	}
	if got, want := listTree(t, p.Dir), []string{"lib/props.blend", "lib/tex/wood.png", "shots/shot.blend"}; !slices.Equal(got, want) {
		t.Errorf("packed %v, want %v", got, want)
	}

	// Without the root, the same shot is refused, naming the library.
	_, err = packScene(context.Background(), inspectOnly{files: []string{"../lib/props.blend"}}, filepath.Join(project, "shots/shot.blend"), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "../lib/props.blend") {
		t.Errorf("without a root: %v, want a refusal naming ../lib/props.blend", err)
	}
}

// A backend without projects lists files beside the main file: they are
// rebased on the root.
func TestPackProjectRebasesPlainBackends(t *testing.T) {
	project := t.TempDir()
	writeTree(t, project, "shots/a.scene", "shots/mesh.obj")
	p, err := packProject(context.Background(), inspectOnly{files: []string{"mesh.obj"}}, filepath.Join(project, "shots/a.scene"), project, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := listTree(t, p.Dir), []string{"shots/a.scene", "shots/mesh.obj"}; !slices.Equal(got, want) {
		t.Errorf("packed %v, want %v", got, want)
	}
}

// With a root, anything outside it is still refused in one line naming
// the file, and a scene outside the root is refused too; nothing is
// staged.
func TestPackProjectNeverLeavesTheRoot(t *testing.T) {
	base := t.TempDir()
	project := filepath.Join(base, "project")
	writeTree(t, base, "project/shots/shot.blend", "secret.png", "elsewhere/other.blend")
	os.Symlink(filepath.Join(base, "secret.png"), filepath.Join(project, "shots", "link.png"))
	for name, tc := range map[string]struct {
		scene string
		files []string
		shown string
	}{
		"dot-dot":        {"project/shots/shot.blend", []string{"../secret.png"}, "../secret.png"},
		"link out":       {"project/shots/shot.blend", []string{"shots/link.png"}, "shots/link.png"},
		"scene outside":  {"elsewhere/other.blend", nil, "not inside the project root"},
		"absolute":       {"project/shots/shot.blend", []string{filepath.Join(base, "secret.png")}, "secret.png"},
		"missing inside": {"project/shots/shot.blend", []string{"lib/nope.png"}, "lib/nope.png"},
	} {
		t.Run(name, func(t *testing.T) {
			tmp := t.TempDir()
			b := rootInspector{rootFiles: tc.files}
			_, err := packProject(context.Background(), b, filepath.Join(base, tc.scene), project, tmp)
			if err == nil || !strings.Contains(err.Error(), tc.shown) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line naming %s", err, tc.shown)
			}
			if got := listTree(t, tmp); len(got) != 0 {
				t.Errorf("staged %v", got)
			}
		})
	}
}
