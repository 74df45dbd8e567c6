// Package examples holds ready-to-publish scenes, one directory per renderer
// (builtin/, and later povray/ and blender/). The builtin scenes are
// embedded so `renderswarm demo` needs no files on disk.
package examples

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
)

// Builtin holds the builtin renderer's example scenes and their meshes,
// under the directory "builtin" (e.g. "builtin/demo.scene"). Previews are
// not embedded.
//
//go:embed builtin/*.scene builtin/*.obj
var Builtin embed.FS

// DemoScene is the demo scene's file name inside the builtin directory.
const DemoScene = "demo.scene"

// WriteBuiltin copies the builtin scenes and meshes into dir (created if
// needed, must not already hold them), ready to render or publish, e.g.
// filepath.Join(dir, DemoScene).
func WriteBuiltin(dir string) error {
	sub, err := fs.Sub(Builtin, "builtin")
	if err != nil {
		return fmt.Errorf("example scenes: %w", err)
	}
	if err := os.CopyFS(dir, sub); err != nil {
		return fmt.Errorf("writing example scenes to %s: %w", dir, err)
	}
	return nil
}
