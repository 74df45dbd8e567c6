package povray

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/renderswarm/renderswarm/render"
)

// POV-Ray wraps a long "File '…' line N: Parse Error: …" over two lines;
// the failure reason keeps the file (relative to the scene) and line with
// the error.
func TestTailKeepsWrappedErrorLocation(t *testing.T) {
	tail := newTail(10)
	for _, l := range []string{
		"Parsing 1K tokens",
		"File '/scratch/0a1b2c/crash.pov' line 4:",
		" Parse Error: Parse halted by #error directive: deliberate failure",
		"Fatal error in parser: Cannot parse input.",
		"Render failed",
	} {
		tail.add(l)
	}
	got := tail.summary("/scratch/0a1b2c")
	want := "File 'crash.pov' line 4: Parse Error: Parse halted by #error directive | Fatal error in parser: Cannot parse input. | Render failed"
	if got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	// Wrapped in the middle of the path.
	tail = newTail(10)
	tail.add("File '/tmp/renderswarm-work/task-1234/scene-51bb7edc-with-a-name-long-enough-tow")
	tail.add("rap/crash.pov' line 4: Parse Error: Parse halted by #error directive: it")
	tail.add(" failed")
	tail.add("Fatal error in parser: Cannot parse input.")
	if got := tail.summary("/tmp/renderswarm-work/task-1234/scene-51bb7edc-with-a-name-long-enough-towrap"); !strings.HasPrefix(got, "File 'crash.pov' line 4: Parse Error: Parse halted by #error directive | Fatal") {
		t.Errorf("summary %q", got)
	}
}

// TestSanitizeKeepsWhatThePublisherWrote: an #error's literal text and a
// misspelt identifier are kept when they stand in the scene file the
// message names; the same text read from elsewhere is not.
func TestSanitizeKeepsWhatThePublisherWrote(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "s.pov"), "#declare X = Tx;\n#error \"renderswarm-test   deliberate failure\"\n")
	for _, c := range []struct{ in, want string }{
		{"File '" + dir + "/s.pov' line 2: Parse Error: Parse halted by #error directive: renderswarm-test deliberate failure",
			"File 's.pov' line 2: Parse Error: Parse halted by #error directive: renderswarm-test deliberate failure"},
		{"File '" + dir + "/s.pov' line 2: Parse Error: Parse halted by #error directive: s3cr3t read from a file",
			"File 's.pov' line 2: Parse Error: Parse halted by #error directive"},
		{"File '" + dir + "/s.pov' line 1: Parse Error: Expected 'numeric expression', undeclared identifier 'Tx' found instead",
			"File 's.pov' line 1: Parse Error: Expected 'numeric expression', undeclared identifier 'Tx' found instead"},
		{"File '/elsewhere/s.pov' line 2: Parse Error: Parse halted by #error directive: renderswarm-test deliberate failure",
			"File '(a file outside the scene)' line 2: Parse Error: Parse halted by #error directive"},
	} {
		if got := sanitize(c.in, dir); got != c.want {
			t.Errorf("sanitize(%q)\n = %q\nwant %q", c.in, got, c.want)
		}
	}
}

// TestSanitizeKeepsNoFileContent: POV-Ray's messages as 3.7.0.10 prints
// them (continuation lines joined) keep file, line, kind and POV-Ray's own
// words; nothing read from a file — a computed #include's first token, a
// name built from data, #error and #warning text, #debug output — is left.
func TestSanitizeKeepsNoFileContent(t *testing.T) {
	const dir = "/home/v/.local/share/renderswarm/assets/data/abc"
	for _, c := range []struct{ in, want string }{
		{"File '/home/v/.ssh/id_ed25519' line 1: Parse Error: Expected 'object or directive', undeclared identifier 'TOPSECRET123' found instead",
			"File '(a file outside the scene)' line 1: Parse Error: Expected 'object or directive', undeclared identifier '…' found instead"},
		{"File '" + dir + "/scene.pov' line 3: Parse Error: Expected 'numeric expression', string literal found instead",
			"File 'scene.pov' line 3: Parse Error: Expected 'numeric expression', string literal found instead"},
		{"File '" + dir + "/inc/a.inc' line 7: Parse Error: No matching } in 'texture', undeclared identifier 'Tx' found instead",
			"File 'inc/a.inc' line 7: Parse Error: No matching } in 'texture', undeclared identifier '…' found instead"},
		{"File '" + dir + "/s.pov' line 1: Parse Error: Expected 'object or directive', image_map found instead",
			"File 's.pov' line 1: Parse Error: Expected 'object or directive', image_map found instead"},
		{"File '/etc/x' line 1: Parse Error: Expected 'object or directive', hunter2 found instead",
			"File '(a file outside the scene)' line 1: Parse Error: Expected 'object or directive', … found instead"},
		{"File '" + dir + "/s.pov' line 2: Parse Error: Parse halted by #error directive: s3cr3t from a data file",
			"File 's.pov' line 2: Parse Error: Parse halted by #error directive"},
		{"File '" + dir + "/s.pov' line 2: Parse Warning: s3cr3t error", "File 's.pov' line 2: Parse Warning"},
		{"File '" + dir + "/s.pov' line 1: Parse Error: Cannot open include file nope.inc.",
			"File 's.pov' line 1: Parse Error: Cannot open include file nope.inc"},
		{"File '" + dir + "/s.pov' line 1: Parse Error: Cannot open user file /x/s3cr3t.txt (read).",
			"File 's.pov' line 1: Parse Error: Cannot open user file … (read)"},
		{"File '" + dir + "/s.pov' line 1: Possible Parse Error: Cannot find file 'maps/x.png', even after trying to append file type extension.",
			"File 's.pov' line 1: Possible Parse Error: Cannot find file maps/x.png"},
		{"File '" + dir + "/s.pov' line 1: Parse Error: All #declares of float, vector, and color require semi-colon ';' at end if the language version is set to 3.5 or higher.",
			"File 's.pov' line 1: Parse Error: All #declares of float, vector, and color require semi-colon"},
		{"File '" + dir + "/s.pov' line 9: Parse Error: Illegal character in input file, value is 27.", "File 's.pov' line 9: Parse Error"},
		{"Fatal error in parser: Cannot parse input.", "Fatal error in parser: Cannot parse input."},
		{"Render failed", "Render failed"},
		{"TOPSECRET123 printed by #debug", ""},
		{"error: TOPSECRET123", ""},
	} {
		if got := sanitize(c.in, dir); got != c.want {
			t.Errorf("sanitize(%q)\n = %q\nwant %q", c.in, got, c.want)
		}
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

// A render killed by a signal after POV-Ray warned of a "Possible Parse
// Error" is a crash, not an invalid scene (which would blame the job); a
// real parse error still is.
func TestCrashAfterAParseWarningIsACrash(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to crash")
	}
	crash := exec.Command("sh", "-c", "kill -SEGV $$")
	waitErr := crash.Run()
	if waitErr == nil {
		t.Fatal("the shell survived SIGSEGV")
	}
	tail := newTail(10)
	tail.add("Possible Parse Error: Suspicious identifier found in function!")
	tail.add("==== [Rendering...] ========================================================")
	err := povError(waitErr, tail, "/scene", 1<<30)
	if errors.Is(err, render.ErrSceneInvalid) || !strings.Contains(err.Error(), "segmentation fault") {
		t.Errorf("crash after a warning: %v; want a crash, with its signal", err)
	}
	tail = newTail(10)
	tail.add("File '/scene/s.pov' line 4: Parse Error: Expected 'object', undeclared identifier 'x' found instead")
	if err := povError(errors.New("exit status 1"), tail, "/scene", 1<<30); !errors.Is(err, render.ErrSceneInvalid) {
		t.Errorf("a parse error: %v; want ErrSceneInvalid", err)
	}
}
