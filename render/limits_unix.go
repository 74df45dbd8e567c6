//go:build unix && !linux

package render

import (
	"fmt"
	"io"
	"os/exec"
)

// sandboxOS: bubblewrap is Linux-only.
const sandboxOS = false

func startLimited(cmd *exec.Cmd, lim Limits) error {
	if kb := lim.Memory >> 10; kb > 0 {
		path := cmd.Path
		cmd.Path = "/bin/sh"
		cmd.Args = append([]string{"/bin/sh", "-c", `ulimit -v "$0" || exit 125; exec "$@"`, fmt.Sprint(kb), path}, cmd.Args[1:]...)
	}
	return cmd.Start()
}

func startFed(cmd *exec.Cmd, lim Limits) (io.WriteCloser, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	return in, startLimited(cmd, lim)
}
