package render

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"unsafe"
)

// sandboxOS: bubblewrap runs here.
const sandboxOS = true

// gateScript waits for the go-ahead on standard input, then becomes the
// program ("$@").
const gateScript = `read -r _ || exit 125; exec "$@"`

func startLimited(cmd *exec.Cmd, lim Limits) error {
	_, err := startGated(cmd, lim, false)
	return err
}

func startFed(cmd *exec.Cmd, lim Limits) (io.WriteCloser, error) {
	return startGated(cmd, lim, true)
}

// startGated starts cmd behind the gate; with feed, the gate's pipe stays
// open after the go-ahead and is returned: the program's standard input
// (the shell's read takes exactly the go-ahead line: sh reads a pipe a
// byte at a time).
func startGated(cmd *exec.Cmd, lim Limits, feed bool) (io.WriteCloser, error) {
	if lim.Memory <= 0 && lim.FileSize <= 0 {
		var in io.WriteCloser
		if feed {
			var err error
			if in, err = cmd.StdinPipe(); err != nil {
				return nil, err
			}
		}
		return in, cmd.Start()
	}
	if cmd.Stdin != nil {
		return nil, errors.New("render.Start: cmd.Stdin must be nil")
	}
	path := cmd.Path
	cmd.Path = "/bin/sh"
	cmd.Args = append([]string{"/bin/sh", "-c", gateScript, "renderswarm-limits", path}, cmd.Args[1:]...)
	gate, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		gate.Close()
		return nil, err
	}
	pid := cmd.Process.Pid
	for _, l := range []struct {
		resource int
		value    int64
	}{{syscall.RLIMIT_AS, lim.Memory}, {syscall.RLIMIT_FSIZE, lim.FileSize}} {
		if l.value <= 0 {
			continue
		}
		if err := prlimit(pid, l.resource, uint64(l.value)); err != nil {
			gate.Close() // the shell exits without running the program
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("setting resource limit %d of the renderer: %w", l.resource, err)
		}
	}
	_, err = gate.Write([]byte("go\n"))
	if err != nil || !feed {
		gate.Close()
	}
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("starting the renderer under its limits: %w", err)
	}
	if !feed {
		return nil, nil
	}
	return gate, nil
}

// prlimit sets both the soft and the hard limit of resource for pid.
func prlimit(pid, resource int, v uint64) error {
	lim := syscall.Rlimit{Cur: v, Max: v}
	_, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(resource),
		uintptr(unsafe.Pointer(&lim)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
