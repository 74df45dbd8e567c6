package render

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
)

// ExitReason describes how a renderer process ended, for a failure
// message: a crash by a signal is named as such, also when a sandbox or a
// shell passed it on as exit status 128+N.
func ExitReason(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		switch c := ee.ExitCode(); {
		case c == -1: // killed by a signal: "signal: segmentation fault"
			return "crashed (" + ee.Error() + ")"
		case c > 128 && c <= 128+64:
			return fmt.Sprintf("crashed (signal: %v; exit status %d)", syscall.Signal(c-128), c)
		}
	}
	return fmt.Sprintf("failed (%v)", err)
}

// LastLine keeps a renderer's error one line: its last words.
func LastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
