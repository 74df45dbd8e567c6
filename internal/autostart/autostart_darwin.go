package autostart

import (
	"fmt"
	"os"
	"path/filepath"
)

// ForSystem is this system's Manager: a LaunchAgent of the user.
func ForSystem() (Manager, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil, fmt.Errorf("finding the LaunchAgents folder: %w", err)
	}
	return &Launchd{Dir: filepath.Join(home, "Library", "LaunchAgents"), UID: os.Getuid(), Run: Exec}, nil
}
