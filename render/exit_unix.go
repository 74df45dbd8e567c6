//go:build unix

package render

import (
	"errors"
	"os/exec"
	"syscall"
)

// FileTooLarge reports whether a renderer process ended by SIGXFSZ: it
// wrote past its file size limit (Limits.FileSize), directly or, through a
// sandbox passing it on, as exit status 128+SIGXFSZ.
func FileTooLarge(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGXFSZ {
		return true
	}
	return ee.ExitCode() == 128+int(syscall.SIGXFSZ)
}
