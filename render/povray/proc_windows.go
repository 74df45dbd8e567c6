package povray

import (
	"os"
	"syscall"

	"github.com/renderswarm/renderswarm/render"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

// killGroup kills povray and everything it started (render.KillTree).
func killGroup(p *os.Process) { _ = render.KillTree(p) }
