package povray

import (
	"os"
	"syscall"
)

// sysProcAttr puts povray (or bwrap/prlimit in front of it) in its own
// process group, killed with the node.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the whole process group led by p.
func killGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }
