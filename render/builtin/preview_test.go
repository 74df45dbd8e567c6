package builtin

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/renderswarm/renderswarm/render"
)

// TestPreview renders frames of a scene for a person to look at:
// RENDERSWARM_PREVIEW=scene,frame,frame,...:outdir go test -run Preview.
func TestPreview(t *testing.T) {
	spec := os.Getenv("RENDERSWARM_PREVIEW")
	if spec == "" {
		t.Skip("set RENDERSWARM_PREVIEW=SCENE,FRAME,...:OUTDIR to render previews")
	}
	list, out, _ := strings.Cut(spec, ":")
	parts := strings.Split(list, ",")
	sceneFile := parts[0]
	info, err := New().Inspect(t.Context(), sceneFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range parts[1:] {
		frame, _ := strconv.Atoi(f)
		res, err := New().Render(t.Context(), render.Task{
			SceneDir: filepath.Dir(sceneFile), SceneFile: filepath.Base(sceneFile),
			Frame: frame, Width: info.Width, Height: info.Height, OutputDir: out,
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Log(res.Path)
	}
}
