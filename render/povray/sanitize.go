package povray

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// A failure reason goes to the publisher, a stranger: it must never carry
// the content of a file on the volunteer's machine. POV-Ray quotes what it
// read in its messages — the first token of a file a computed #include
// pulls in ("undeclared identifier 'TOKEN' found instead"), a name built
// from a file's data, the text of #error and #warning, #debug output — so
// its lines are rebuilt from what is known to be POV-Ray's own words: the
// file (relative to the scene, or POV-Ray's library, or just "outside the
// scene"), the line, the kind of message, and the message only where it
// is a known template, with what it quotes left out ("…") unless the
// publisher wrote it: text found verbatim in the scene file the message
// is about (an #error's literal, an identifier misspelt there).

var (
	fileLineRE = regexp.MustCompile(`^File '(.*)' line (\d+):\s*(.*)$`)
	kindRE     = regexp.MustCompile(`^(Parse Error|Possible Parse Error|Parse Warning|Fatal error in parser|Fatal error in renderer|POV-Ray Critical Error|Render failed|Warning|Error)(?::\s*(.*))?$`)
	expectedRE = regexp.MustCompile(`^Expected '([^']*)', (.*) found instead\.?$`)
	noMatchRE  = regexp.MustCompile(`^No matching (\S) in '([a-z_]+)', (.*) found instead\.?$`)
	cannotRE   = regexp.MustCompile(`^Cannot (open|find) (include file|user file|image file|file|input file)\s*'?([^']*?)'?( \((?:read|write|append)\))?(, even after trying to append file type extension)?\.?$`)
	grammarRE  = regexp.MustCompile(`^[a-z0-9 ,#_(){}<>=;.-]{1,80}$`)
	keywordRE  = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,31}$`)
	plainRefRE = regexp.MustCompile(`^[A-Za-z0-9_.-][A-Za-z0-9_./-]{0,99}$`)
	// safeLines are lines of POV-Ray's own that carry nothing of the scene's.
	safeLineRE = regexp.MustCompile(`^(Render failed|POV-Ray finished|Rendered \d+ of \d+ pixels.*|==== \[[A-Za-z .]+\] =*|Parsing\.*|-+)$`)
)

// fixedMessages are POV-Ray messages without anything of the input in
// them, kept as they are (by prefix, the rest of a wrapped message
// dropped).
var fixedMessages = []string{
	"Cannot parse input.", "Cannot open file.", "Cannot assign uninitialized identifier.",
	"Divide by zero.", "No objects in scene.", "Cannot find image file.", "Out of memory.",
	"All #declares of float, vector, and color require semi-colon",
	"All #version and #declares of float, vector, and color require semi-colon",
	"Attempt to access uninitialized array element.", "Array subscript out of range.",
	"Too many nested include files.", "#end of file reached", "Unmatched #",
	"Parse halted by #error directive",
}

// sanitize rebuilds one line of POV-Ray's error output from its own words
// (see above); "" when nothing of it is known.
func sanitize(line, sceneDir string) string {
	line = strings.Join(strings.Fields(line), " ")
	where := ""
	written := func(string) bool { return false }
	if m := fileLineRE.FindStringSubmatch(line); m != nil {
		shown := shownFile(m[1], sceneDir)
		where = "File '" + shown + "' line " + m[2] + ": "
		line = m[3]
		if inScene(m[1], sceneDir) {
			written = func(text string) bool { return writtenIn(filepath.Join(sceneDir, filepath.FromSlash(shown)), text) }
		}
	}
	m := kindRE.FindStringSubmatch(line)
	if m == nil {
		if where == "" && safeLineRE.MatchString(line) {
			return line
		}
		return strings.TrimSuffix(where, ": ")
	}
	kind, msg := m[1], m[2]
	if msg = sanitizeMessage(msg, written); msg != "" {
		return where + kind + ": " + msg
	}
	return where + kind
}

// maxScanned bounds the scene file writtenIn reads.
const maxScanned = 4 << 20

// writtenIn reports whether text (non-empty) appears verbatim in the file
// at path (with its whitespace runs taken as single spaces, as messages
// are).
func writtenIn(path, text string) bool {
	if text == "" {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxScanned))
	if err != nil {
		return false
	}
	return strings.Contains(strings.Join(strings.Fields(string(b)), " "), text)
}

// haltedRE is the message of an #error directive.
var haltedRE = regexp.MustCompile(`^Parse halted by #error directive: (.*)$`)

// sanitizeMessage keeps a message that is a known template, with the
// input it quotes left out unless written says the publisher wrote it;
// "" for any other message.
func sanitizeMessage(msg string, written func(string) bool) string {
	if msg == "" {
		return ""
	}
	if m := haltedRE.FindStringSubmatch(msg); m != nil && written(m[1]) {
		return msg
	}
	for _, f := range fixedMessages {
		if strings.HasPrefix(msg, f) {
			return f
		}
	}
	if m := expectedRE.FindStringSubmatch(msg); m != nil {
		exp := m[1]
		if !grammarRE.MatchString(exp) {
			exp = "…"
		}
		return "Expected '" + exp + "', " + foundToken(m[2], written) + " found instead"
	}
	if m := noMatchRE.FindStringSubmatch(msg); m != nil {
		return "No matching " + m[1] + " in '" + m[2] + "', " + foundToken(m[3], written) + " found instead"
	}
	if m := cannotRE.FindStringSubmatch(msg); m != nil {
		name := strings.TrimSpace(m[3])
		if !plainRefRE.MatchString(name) || strings.Contains(name, "..") {
			name = "…" // absolute or odd: perhaps computed from data
		}
		return "Cannot " + m[1] + " " + m[2] + " " + name + m[4]
	}
	return ""
}

// identRE is an identifier POV-Ray quotes.
var identRE = regexp.MustCompile(`^undeclared identifier '([A-Za-z_][A-Za-z0-9_]*)'$`)

// foundToken describes what POV-Ray found instead without the token's
// text, unless it is a fixed kind of token, a keyword-like word or
// punctuation, or the publisher wrote it (a computed #include's first
// identifier is none of these).
func foundToken(s string, written func(string) bool) string {
	switch {
	case identRE.MatchString(s) && written(identRE.FindStringSubmatch(s)[1]):
		return s
	case strings.HasPrefix(s, "undeclared identifier"):
		return "undeclared identifier '…'"
	case s == "End of File", s == "string literal", s == "float constant", s == "float function",
		s == "vector function", s == "color function", s == "string identifier", s == "float identifier",
		s == "vector identifier", s == "colour identifier", s == "color identifier", s == "object identifier":
		return s
	case len(s) == 1 && strings.ContainsAny(s, "{}()<>[],;=+-*/#\"'"):
		return s
	case keywordRE.MatchString(s) && isKeyword(s):
		return s
	}
	return "…"
}

// isKeyword reports whether w is one of POV-Ray's common keywords, the
// only words a message may name without them coming from the input.
func isKeyword(w string) bool {
	switch w {
	case "sphere", "box", "plane", "cylinder", "cone", "torus", "mesh", "mesh2", "union", "merge",
		"difference", "intersection", "object", "camera", "light_source", "pigment", "texture",
		"finish", "normal", "image_map", "color", "colour", "rgb", "rgbf", "rgbt", "rgbft",
		"translate", "rotate", "scale", "matrix", "transform", "background", "global_settings",
		"location", "look_at", "right", "up", "sky", "angle", "declare", "local", "include",
		"if", "else", "end", "while", "for", "macro", "version", "clock", "x", "y", "z", "t", "u", "v":
		return true
	}
	return false
}

// inScene reports whether name, a file POV-Ray names, is in the scene
// directory.
func inScene(name, sceneDir string) bool {
	if !filepath.IsAbs(name) {
		return false
	}
	rel, err := filepath.Rel(sceneDir, name)
	return err == nil && filepath.IsLocal(rel)
}

// shownFile is how a file POV-Ray names is shown: relative to the scene,
// in POV-Ray's library as is, anywhere else not at all.
func shownFile(name, sceneDir string) string {
	if name == "" {
		return ""
	}
	if !filepath.IsAbs(name) {
		if plainRefRE.MatchString(name) && !strings.Contains(name, "..") {
			return name
		}
		return "(a file outside the scene)"
	}
	if rel, err := filepath.Rel(sceneDir, name); err == nil && filepath.IsLocal(rel) {
		return filepath.ToSlash(rel)
	}
	for _, d := range libraryPaths {
		if rel, err := filepath.Rel(d, name); err == nil && filepath.IsLocal(rel) {
			return name
		}
	}
	return "(a file outside the scene)"
}
