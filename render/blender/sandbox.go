package blender

import (
	"context"

	"github.com/renderswarm/renderswarm/render"
)

// sandboxEtc is what Blender reads from /etc besides the loader's files:
// nothing (measured with Debian's Blender 3.4.1: it renders Cycles and
// Eevee with /etc holding only the loader's files and the alternatives).
var sandboxEtc []string

// sandbox is the bubblewrap jail of one Blender run: the system and the
// scene directory read-only, the work directory the only writable place.
func sandbox(program string, s runSpec) render.Sandbox {
	return render.Sandbox{Program: program, Etc: sandboxEtc, SceneDir: s.sceneDir, WorkDir: s.work}
}

// findSandbox returns bubblewrap's path if it really isolates Blender
// here (render.ProbeSandbox: Blender runs in it and its boundaries hold),
// else "" and the reason.
func findSandbox(program string, disabled bool) (string, string) {
	if disabled {
		return "", "sandbox disabled"
	}
	return render.FindSandbox(context.Background(), func(scene, work string) render.Sandbox {
		return sandbox(program, runSpec{sceneDir: scene, work: work})
	}, []string{program, "--version"}, versionRE.Match)
}
