package blender

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/renderswarm/renderswarm/render"
)

// systemDirs are mounted read-only in the sandbox (those that exist).
var systemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt"}

// bwrapArgs runs program under bubblewrap: every namespace unshared (no
// network), a read-only system, the scene directory read-only, the work
// directory (inside the output directory) the only writable place, a
// private /tmp, killed with its parent.
func bwrapArgs(program string, s runSpec) []string {
	args := []string{"--unshare-all", "--die-with-parent", "--new-session"}
	for _, d := range systemDirs {
		args = append(args, "--ro-bind-try", d, d)
	}
	args = append(args, "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp")
	// A Blender unpacked outside the system directories (a release
	// tarball) needs its own directory, bound after the private /tmp.
	for _, d := range render.ProgramDirs(program, systemDirs) {
		args = append(args, "--ro-bind", d, d)
	}
	if s.sceneDir != "" {
		args = append(args, "--ro-bind", s.sceneDir, s.sceneDir)
	}
	args = append(args, "--bind", s.work, s.work, "--chdir", s.work, "--")
	return append(args, program)
}

// findSandbox returns bubblewrap's path if it can run Blender here, else ""
// and the reason. Containers without user namespaces make bwrap fail; then
// renders run unsandboxed (still with --disable-autoexec).
func findSandbox(program string, disabled bool) (string, string) {
	if disabled {
		return "", "sandbox disabled"
	}
	if runtime.GOOS != "linux" {
		return "", "bubblewrap is Linux-only"
	}
	bw, err := exec.LookPath("bwrap")
	if err != nil {
		return "", "bubblewrap (bwrap) is not installed"
	}
	work, err := os.MkdirTemp("", "renderswarm-bwrap-")
	if err != nil {
		return "", err.Error()
	}
	defer os.RemoveAll(work)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append(bwrapArgs(program, runSpec{work: work}), "--version")
	cmd := exec.CommandContext(ctx, bw, args...)
	cmd.Env = minimalEnv(work)
	out, err := cmd.CombinedOutput()
	if err != nil || !versionRE.Match(out) {
		msg := strings.TrimSpace(string(out))
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return "", "bubblewrap does not work here: " + msg
	}
	return bw, ""
}
