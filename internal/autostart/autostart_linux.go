package autostart

import "os"

// ForSystem is this system's Manager: the systemd user unit.
func ForSystem() (Manager, error) {
	home, _ := os.UserHomeDir()
	dir, err := UserUnitDir(os.Getenv, home)
	if err != nil {
		return nil, err
	}
	return &Systemd{Dir: dir, PackageDirs: PackagedUnitDirs, Run: Exec}, nil
}
