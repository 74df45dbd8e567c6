//go:build !linux && !darwin && !windows

package autostart

import (
	"fmt"
	"runtime"
)

// ForSystem fails: there is no start at login for this system yet.
func ForSystem() (Manager, error) {
	return nil, fmt.Errorf("starting the node at login is not supported on %s (run `renderswarm node` from the system's own autostart)", runtime.GOOS)
}
