package render

import (
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// DefaultMemoryLimit is a render's memory limit when its task sets none
// (Task.MemoryLimit 0): the manifest's default and a volunteer's default
// cap.
const DefaultMemoryLimit = 4 << 30

// Output limits: a render may write outputBase bytes plus outputPerPixel
// per pixel of the full frame (Task.OutputLimit 0). Blender writes its
// tiles to a float EXR in its work directory for frames larger than its
// tile size, about 16 bytes per pixel and pass; a PNG is at most 4 bytes
// per pixel plus its headers.
const (
	outputBase     = 256 << 20
	outputPerPixel = 64
)

// MemoryLimitOf is the memory limit t renders under, in bytes.
func MemoryLimitOf(t Task) int64 {
	if t.MemoryLimit > 0 {
		return t.MemoryLimit
	}
	return DefaultMemoryLimit
}

// OutputLimitOf is the most t's render may write, in bytes: every file in
// its work directory together, and any one file.
func OutputLimitOf(t Task) int64 {
	if t.OutputLimit > 0 {
		return t.OutputLimit
	}
	return outputBase + outputPerPixel*int64(t.Width)*int64(t.Height)
}

// Limits bound one renderer process and every process it starts.
type Limits struct {
	Memory   int64 // address space per process in bytes (RLIMIT_AS); 0: none
	FileSize int64 // largest file it may write in bytes (RLIMIT_FSIZE); 0: none
}

// LimitsOf are the process limits of t's render.
func LimitsOf(t Task) Limits {
	return Limits{Memory: MemoryLimitOf(t), FileSize: OutputLimitOf(t)}
}

// Start starts cmd with lim in force before its program runs. On Linux
// the program is held at a gate (/bin/sh waiting for a line on its
// standard input, which Start takes) until prlimit(2) has set the limits
// on it; the shell then execs the program, which inherits them, as does
// everything it starts. On other Unix systems the shell sets the memory
// limit with ulimit -v (the file size limit is left to WatchSize). On
// Windows there are no limits. cmd.Stdin must be nil; the program sees an
// empty standard input.
func Start(cmd *exec.Cmd, lim Limits) error {
	return startLimited(cmd, lim)
}

// StartFed is Start for a program that reads its standard input: it
// returns the writing end of the program's standard input (on Linux, the
// gate's pipe, kept open after the go-ahead). cmd.Stdin must be nil.
func StartFed(cmd *exec.Cmd, lim Limits) (io.WriteCloser, error) {
	return startFed(cmd, lim)
}

// WatchSize calls over, once, when the files under dir together hold more
// than limit bytes; it looks every 200 ms until stop, which reports
// whether over was called.
func WatchSize(dir string, limit int64, over func()) (stop func() bool) {
	done := make(chan struct{})
	var once sync.Once
	exceeded := false
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if DirSize(dir) > limit {
				exceeded = true
				over()
				return
			}
		}
	}()
	return func() bool {
		once.Do(func() { close(done) })
		wg.Wait()
		return exceeded
	}
}

// DirSize is the total size of the regular files under dir.
func DirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// Size formats a byte count for a message: "900 bytes", "12.5 MiB",
// "4 GiB".
func Size(n int64) string {
	switch {
	case n < 1<<20:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<30:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/(1<<20)), ".0") + " MiB"
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/(1<<30)), ".0") + " GiB"
}
