package povray

import (
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
// is a known template, with everything it quotes from the scene's input
// left out ("…").

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
	if m := fileLineRE.FindStringSubmatch(line); m != nil {
		where = "File '" + shownFile(m[1], sceneDir) + "' line " + m[2] + ": "
		line = m[3]
	}
	m := kindRE.FindStringSubmatch(line)
	if m == nil {
		if where == "" && safeLineRE.MatchString(line) {
			return line
		}
		return strings.TrimSuffix(where, ": ")
	}
	kind, msg := m[1], m[2]
	if msg = sanitizeMessage(msg); msg != "" {
		return where + kind + ": " + msg
	}
	return where + kind
}

// sanitizeMessage keeps a message that is a known template, with the
// input it quotes left out; "" for any other.
func sanitizeMessage(msg string) string {
	if msg == "" {
		return ""
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
		return "Expected '" + exp + "', " + foundToken(m[2]) + " found instead"
	}
	if m := noMatchRE.FindStringSubmatch(msg); m != nil {
		return "No matching " + m[1] + " in '" + m[2] + "', " + foundToken(m[3]) + " found instead"
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

// foundToken describes what POV-Ray found instead without the token's
// text, unless it is a fixed kind of token, a keyword-like word or
// punctuation (a computed #include's first identifier is none of these).
func foundToken(s string) string {
	switch {
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
