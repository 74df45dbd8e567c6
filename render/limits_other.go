//go:build !unix

package render

import (
	"io"
	"os/exec"
)

// sandboxOS: bubblewrap is Linux-only.
const sandboxOS = false

// startLimited cannot limit a process's memory here.
func startLimited(cmd *exec.Cmd, _ Limits) error { return cmd.Start() }

func startFed(cmd *exec.Cmd, lim Limits) (io.WriteCloser, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	return in, startLimited(cmd, lim)
}
