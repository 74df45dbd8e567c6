package volunteer

import (
	"os"
	"path/filepath"
	"testing"
)

// A node keeps the fastest speed it measured per renderer version: a start
// on a busy machine does not lower its claims, a faster measure raises
// them, another version starts afresh, and a damaged file is measured again.
func TestKeepSpeed(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		version         string
		measured, wants float64
	}{
		{"builtin 1", 0.5, 0.5},
		{"builtin 1", 0.8, 0.8},
		{"builtin 1", 0.6, 0.8},
		{"builtin 2", 0.3, 0.3},
		{"builtin 1", 0.7, 0.8},
	} {
		got, err := KeepSpeed(dir, c.version, c.measured)
		if err != nil || got != c.wants {
			t.Fatalf("KeepSpeed(%s, %v) = %v, %v; want %v", c.version, c.measured, got, err, c.wants)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, speedFile), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := KeepSpeed(dir, "builtin 1", 0.4); err != nil || got != 0.4 {
		t.Fatalf("after a damaged file: %v, %v; want the measure 0.4", got, err)
	}
}
