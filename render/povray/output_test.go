package povray

import (
	"strings"
	"testing"
)

// POV-Ray wraps a long "File '…' line N: Parse Error: …" over two lines;
// the failure reason keeps the file and line with the error.
func TestTailKeepsWrappedErrorLocation(t *testing.T) {
	tail := newTail(10)
	for _, l := range []string{
		"Parsing 1K tokens",
		"File '/scratch/0a1b2c/crash.pov' line 4:",
		"Parse Error: Parse halted by #error directive: deliberate failure",
		"Fatal error in parser: Cannot parse input.",
		"Render failed",
	} {
		tail.add(l)
	}
	got := tail.summary()
	if !strings.Contains(got, "File '/scratch/0a1b2c/crash.pov' line 4: Parse Error: Parse halted by #error directive: deliberate failure") {
		t.Errorf("summary %q lost the error's location", got)
	}
	// Wrapped in the middle of the path.
	tail = newTail(10)
	tail.add("File '/tmp/renderswarm-work/task-1234/scene-51bb7edc")
	tail.add("/crash.pov' line 4: Parse Error: Parse halted by #error directive")
	if got := tail.summary(); !strings.HasPrefix(got, "File '/tmp/renderswarm-work/task-1234/scene-51bb7edc/crash.pov' line 4: Parse Error") {
		t.Errorf("summary %q", got)
	}
}

func TestScanStderrProgress(t *testing.T) {
	in := "Parsing 1K tokens\r\n==== [Rendering...] ====\nRendered 1024 of 3072 pixels (33%)\rRendered 512 of 3072 pixels (16%)\rRendered 3072 of 3072 pixels (100%)\r\nPOV-Ray finished\n"
	var got []float64
	last := 0.0
	report := func(f float64, _ string) {
		f = max(f, last)
		last = f
		got = append(got, f)
	}
	tail := newTail(5)
	if err := scanStderr(strings.NewReader(in), tail, report); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0] != 0.01 || got[1] <= got[0] || got[2] != got[1] || got[3] < 0.98 || got[3] >= 1 {
		t.Errorf("progress %v", got)
	}
	if tail.last() != "POV-Ray finished" {
		t.Errorf("last line %q", tail.last())
	}
}
