package autostart

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// VerifyUnit runs systemd-analyze verify on the unit file at path and
// fails on any complaint about it; it skips when systemd-analyze is not
// installed (fails under RENDERSWARM_REQUIRE_RENDERERS=1, as in CI).
func VerifyUnit(t *testing.T, path string) {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("RENDERSWARM_REQUIRE_RENDERERS") == "1" {
			t.Fatal("systemd-analyze is not installed (apt-get install systemd)")
		}
		t.Skip("systemd-analyze is not installed (apt-get install systemd)")
	}
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	var complaints []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, path) || strings.Contains(l, UnitName) {
			complaints = append(complaints, l)
		}
	}
	if err != nil || len(complaints) > 0 {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", path, err, out)
	}
}
