package povray

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
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
		raw := strings.TrimRight(sc.Text(), " \t")
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		tail.add(raw)
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

// tailBuf keeps the last messages of povray's output. POV-Ray wraps a
// message at 80 columns: at a space, the next line starting with that
// space, or in the middle of a word (a long path) after a full line. Such
// lines are joined back into one message exactly as written.
type tailBuf struct {
	n       int
	lines   []string // the last n messages
	errs    []string // the first error messages
	first   string   // the first line of output
	prevLen int      // length of the last raw line
}

// wrapWidth is the line length at which POV-Ray breaks a word.
const wrapWidth = 80

func newTail(n int) *tailBuf { return &tailBuf{n: n} }

// add takes one raw line of output (trailing blanks removed).
func (t *tailBuf) add(raw string) {
	if t.first == "" {
		t.first = raw
	}
	prev := t.prevLen
	t.prevLen = len(raw)
	if n := len(t.lines); n > 0 && len(t.lines[n-1]) < 2000 &&
		(strings.HasPrefix(raw, " ") || prev >= wrapWidth && isMessage(t.lines[n-1])) {
		t.lines[n-1] += raw
		return
	}
	t.finish()
	if len(t.lines) == t.n {
		t.lines = t.lines[1:]
	}
	t.lines = append(t.lines, strings.TrimSpace(raw))
}

// finish files the last message among the errors if it is one.
func (t *tailBuf) finish() {
	if n := len(t.lines); n > 0 && len(t.errs) < 4 {
		if l := t.lines[n-1]; (strings.Contains(l, "Error") || strings.Contains(l, "error")) && !slices.Contains(t.errs, l) {
			t.errs = append(t.errs, l)
		}
	}
}

// isMessage reports whether a line starts one of POV-Ray's messages, which
// may go on past a full line.
func isMessage(l string) bool {
	return strings.HasPrefix(l, "File '") || kindRE.MatchString(l) || strings.HasPrefix(l, "Possible ")
}

// raw is the last n messages as povray wrote them, unsanitized: for this
// machine's own log only, never for the publisher.
func (t *tailBuf) raw(n int) string {
	return strings.Join(t.lines[max(0, len(t.lines)-n):], " | ")
}

func (t *tailBuf) last() string {
	if len(t.lines) == 0 {
		return "(no output)"
	}
	return t.lines[len(t.lines)-1]
}

// summary is the first error lines and the last line of output,
// sanitized (sanitize) for a publisher to read.
func (t *tailBuf) summary(sceneDir string) string {
	t.finish()
	var parts []string
	for _, l := range append(slices.Clone(t.errs), t.last()) {
		if l = sanitize(l, sceneDir); l != "" && !slices.Contains(parts, l) {
			parts = append(parts, l)
		}
	}
	if len(parts) == 0 {
		return "(no message)"
	}
	return strings.Join(parts, " | ")
}

// sceneErrorMarks are povray messages that blame the scene, not the task or
// machine. "Possible Parse Error" is a warning, not one of them
// (povError removes it first): a render that crashes after it is a crash.
var sceneErrorMarks = []string{"Parse Error", "Fatal error in parser", "Cannot open", "Cannot find", "not found", "Permission denied", "Illegal"}

// povError is the error of a failed povray run: its kind decided from
// everything povray said, its message sanitized for the publisher.
func povError(waitErr error, tail *tailBuf, sceneDir string, memory int64) error {
	msg := tail.summary(sceneDir)
	all := strings.Join(tail.lines, "\n")
	if strings.Contains(all, "bad_alloc") || strings.Contains(all, "Out of memory") || strings.Contains(all, "out of memory") {
		return fmt.Errorf("%w: the scene exceeds the memory limit of %s: povray: %s", render.ErrTaskInvalid, render.Size(memory), msg)
	}
	said := strings.ReplaceAll(all, "Possible Parse Error", "")
	for _, m := range sceneErrorMarks {
		if strings.Contains(said, m) {
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

// lastBytes keeps the last max bytes written to it: povray's standard
// output, which it fills only when something goes wrong.
type lastBytes struct {
	max int
	buf []byte
}

func (w *lastBytes) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	if over := len(w.buf) - w.max; over > 0 {
		w.buf = w.buf[over:]
	}
	return len(p), nil
}

func (w *lastBytes) String() string { return strings.TrimSpace(string(w.buf)) }
