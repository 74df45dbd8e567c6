package render

import (
	"os/exec"
	"strings"
	"testing"
)

func TestExitReason(t *testing.T) {
	for script, want := range map[string]string{
		"kill -SEGV $$": "crashed (signal: segmentation fault)",
		"exit 139":      "crashed (signal: segmentation fault; exit status 139)", // as bwrap passes it on
		"exit 3":        "failed (exit status 3)",
	} {
		err := exec.Command("sh", "-c", script).Run()
		if got := ExitReason(err); !strings.HasPrefix(got, want) {
			t.Errorf("%s: %q, want %q", script, got, want)
		}
	}
}
