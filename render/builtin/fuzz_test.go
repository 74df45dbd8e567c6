package builtin

import (
	"os"
	"strings"
	"testing"

	"github.com/renderswarm/renderswarm/render"
)

// Scenes and meshes come from strangers: parsing must never panic, and a
// scene that parses must render.

func FuzzParseScene(f *testing.F) {
	for _, p := range []string{"testdata/anim.scene", "../../examples/builtin/demo.scene", "../../examples/builtin/cornell.scene"} {
		src, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte(okHead + "sphere material=m\nkey frame=0 pos=1,2,3 ease=smooth\nkey frame=0 scale=2\n"))
	tetra, err := parseOBJ("t.obj", strings.NewReader("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 3 4\nf 1 4 2\nf 2 4 3\n"), 10, true)
	if err != nil {
		f.Fatal(err)
	}
	mesh := newMesh(tetra)
	f.Fuzz(func(t *testing.T, src []byte) {
		sc, err := parseScene("f.scene", src)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.scene") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q does not start with the file name on one line", err)
			}
			return
		}
		for _, e := range sc.entities {
			e.mesh = mesh
		}
		task := render.Task{Width: 4, Height: 3, Samples: 1, Frame: sc.frameStart + 1}
		w := sc.at(task.Frame, task.Width, task.Height)
		for y := range task.Height {
			for x := range task.Width {
				w.pixel(task, x, y)
			}
		}
	})
}

func FuzzParseOBJ(f *testing.F) {
	src, err := os.ReadFile("testdata/meshes/tetra.obj")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(src, true)
	f.Add([]byte("v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvn 0 0 1\nf -4//1 -3//1 -2//1 -1//1\n"), false)
	f.Fuzz(func(t *testing.T, src []byte, smooth bool) {
		tris, err := parseOBJ("f.obj", strings.NewReader(string(src)), 1000, smooth)
		if err != nil {
			return
		}
		m := newMesh(tris)
		m.intersect(vec{0.1, 0.2, 5}, vec{0, 0, -1}, eps, inf, false)
	})
}
