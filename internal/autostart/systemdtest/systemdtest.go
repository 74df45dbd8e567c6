// Package systemdtest has systemd itself check unit files in tests. It
// imports only the standard library.
package systemdtest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Verify runs systemd-analyze verify on the unit file at path and fails t
// on any complaint about that unit (systemd warns about unknown keys and
// missing programs without failing). Without systemd-analyze it skips t,
// or fails it under RENDERSWARM_REQUIRE_RENDERERS=1, as in CI.
func Verify(t testing.TB, path string) {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("RENDERSWARM_REQUIRE_RENDERERS") == "1" {
			t.Fatal("systemd-analyze is not installed (apt-get install systemd)")
		}
		t.Skip("systemd-analyze is not installed (apt-get install systemd)")
	}
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, filepath.Base(path)) {
			err = errors.New("complaint: " + l)
		}
	}
	if err != nil {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", path, err, out)
	}
}
