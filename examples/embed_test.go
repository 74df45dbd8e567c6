package examples

import (
	"path/filepath"
	"testing"

	"github.com/renderswarm/renderswarm/render/builtin"
)

func TestWriteBuiltinScenesInspect(t *testing.T) {
	dir := t.TempDir()
	if err := WriteBuiltin(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{DemoScene, "cornell.scene"} {
		info, err := builtin.New().Inspect(t.Context(), filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if info.FrameEnd <= info.FrameStart {
			t.Errorf("%s: frames %d-%d, want an animation", name, info.FrameStart, info.FrameEnd)
		}
	}
}
