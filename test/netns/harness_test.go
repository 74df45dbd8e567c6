package netns

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// binary is the renderswarm binary built once for the package's tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "renderswarm-netns-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "renderswarm")
	build := exec.Command("go", "build", "-o", binary, "../../cmd/renderswarm")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building renderswarm:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer is a node's output, read while the node writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// jobStatus is what `status --json` says of a job, as far as these tests
// look.
type jobStatus struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Frames struct {
		Total, Verified, Rendering, Failed int
	} `json:"frames"`
}

// result is what one CLI invocation did.
type result struct {
	code           int
	stdout, stderr string
}

// creditsReport is what `credits --json` says.
type creditsReport struct {
	Balance, Earned, Spent float64
	Receipts               []struct {
		Role, Counterpart, Task string
		CU                      float64
		Countersigned           bool
	}
}

func skipIfShort(t *testing.T) {
	if testing.Short() {
		t.Skip("network-namespace test with several node processes; skipped with -short")
	}
}

// tail is the last lines of s.
func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
