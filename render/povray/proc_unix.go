//go:build unix && !linux

package povray

import (
	"os"
	"syscall"
)

// sysProcAttr puts povray in its own process group (macOS and the BSDs
// have no parent-death signal).
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// killGroup kills the whole process group led by p.
func killGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }
