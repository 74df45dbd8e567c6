//go:build unix

package node

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockExclusive takes f's exclusive advisory lock without waiting; it fails
// while another process holds it.
func lockExclusive(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}

func unlockFile(f *os.File) { unix.Flock(int(f.Fd()), unix.LOCK_UN) }
