package povray

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/renderswarm/renderswarm/render"
)

var renderedRE = regexp.MustCompile(`Rendered (\d+) of (\d+) pixels`)

// scanStderr reads povray's stderr, keeping its last lines in tail and
// turning "Rendered N of M pixels" lines into progress.
func scanStderr(r io.Reader, tail *tailBuf, report func(float64, string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	parsing := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		tail.add(line)
		if m := renderedRE.FindStringSubmatch(line); m != nil {
			n, _ := strconv.ParseFloat(m[1], 64)
			d, _ := strconv.ParseFloat(m[2], 64)
			if d > 0 {
				report(0.05+0.94*min(n/d, 1), "rendering")
			}
		} else if !parsing && strings.HasPrefix(line, "Parsing") {
			parsing = true
			report(0.01, "parsing")
		}
	}
	return sc.Err()
}

// tailBuf keeps the last lines of output.
type tailBuf struct {
	n     int
	lines []string
	errs  []string // error messages, continuation lines joined
	cont  bool     // the last line was part of an error message
	where string   // a "File '…' line N:" line, which POV-Ray may wrap before its error
}

func newTail(n int) *tailBuf { return &tailBuf{n: n} }

func (t *tailBuf) add(l string) {
	if len(t.lines) == t.n {
		t.lines = t.lines[1:]
	}
	t.lines = append(t.lines, l)
	end := strings.HasPrefix(l, "Fatal") || strings.HasPrefix(l, "Render failed") || strings.HasPrefix(l, "====") || strings.HasPrefix(l, "----")
	where := t.where
	t.where = ""
	switch {
	case strings.Contains(l, "Error") || strings.Contains(l, "error"):
		if where != "" && !strings.HasPrefix(l, "File ") {
			sep := "" // wrapped mid-path at POV-Ray's line width
			if strings.HasSuffix(where, ":") {
				sep = " "
			}
			l = where + sep + l
		}
		if len(t.errs) < 4 {
			t.errs = append(t.errs, l)
		}
		t.cont = !end
	case strings.HasPrefix(l, "File '") && !t.cont:
		t.where = l
	case t.cont && !end && len(t.errs) > 0 && len(t.errs[len(t.errs)-1]) < 500:
		t.errs[len(t.errs)-1] += " " + l
	default:
		t.cont = false
	}
}

func (t *tailBuf) last() string {
	if len(t.lines) == 0 {
		return "(no output)"
	}
	return t.lines[len(t.lines)-1]
}

// summary is the first error lines and the last line of output.
func (t *tailBuf) summary() string {
	parts := append([]string(nil), t.errs...)
	if l := t.last(); len(parts) == 0 || parts[len(parts)-1] != l {
		parts = append(parts, l)
	}
	return strings.Join(parts, " | ")
}

// sceneErrorMarks are povray messages that blame the scene, not the task or
// machine.
var sceneErrorMarks = []string{"Parse Error", "Fatal error in parser", "Cannot open", "Cannot find", "not found", "Permission denied", "Illegal"}

func povError(waitErr error, tail *tailBuf) error {
	msg := tail.summary()
	all := strings.Join(tail.lines, "\n")
	if strings.Contains(all, "bad_alloc") || strings.Contains(all, "Out of memory") || strings.Contains(all, "out of memory") {
		return fmt.Errorf("%w: the scene exceeds the memory limit: povray: %s", render.ErrTaskInvalid, msg)
	}
	for _, m := range sceneErrorMarks {
		if strings.Contains(all, m) {
			return fmt.Errorf("%w: povray: %s", render.ErrSceneInvalid, msg)
		}
	}
	if waitErr == nil {
		waitErr = errors.New("reading its output failed")
	}
	return fmt.Errorf("povray %s: %s", render.ExitReason(waitErr), msg)
}

func lastLine(out []byte) string {
	lines := strings.FieldsFunc(strings.TrimSpace(string(out)), func(r rune) bool { return r == '\n' || r == '\r' })
	if len(lines) == 0 {
		return "(no output)"
	}
	return lines[len(lines)-1]
}
