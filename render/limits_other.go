//go:build !unix

package render

import "os/exec"

// sandboxOS: bubblewrap is Linux-only.
const sandboxOS = false

// startLimited cannot limit a process's memory here.
func startLimited(cmd *exec.Cmd, _ Limits) error { return cmd.Start() }
