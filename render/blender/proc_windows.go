package blender

import (
	"os/exec"

	"github.com/renderswarm/renderswarm/render"
)

// setProcessGroup does nothing on Windows: killGroup finds Blender's
// process tree when it is needed.
func setProcessGroup(*exec.Cmd) {}

// killGroup kills Blender and everything it started (render.KillTree).
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		render.KillTree(cmd.Process)
	}
}
