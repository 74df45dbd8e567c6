// Package examples holds ready-to-publish scenes, one directory per renderer
// (builtin/, and later povray/ and blender/). The builtin scenes are
// embedded so `renderswarm demo` needs no files on disk.
package examples

import "embed"

// Builtin holds the builtin renderer's example scenes and their meshes,
// under the directory "builtin" (e.g. "builtin/demo.scene").
//
//go:embed builtin/*.scene builtin/*.obj
var Builtin embed.FS

// DemoScene is the path of the demo scene inside Builtin.
const DemoScene = "builtin/demo.scene"
