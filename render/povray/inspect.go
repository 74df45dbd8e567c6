package povray

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/renderswarm/renderswarm/render"
)

// Default resolution Inspect reports when a scene does not set one (a plain
// .pov never does; Render always passes the task's +W/+H).
const (
	DefaultWidth  = 320
	DefaultHeight = 240
)

// libraryDirs are where POV-Ray finds system includes (colors.inc, ...)
// and stock image maps; such references are not packed with a scene.
var libraryDirs = []string{
	"/usr/share/povray-3.7/include",
	"/usr/share/povray-3.7",
	"/usr/share/povray/include",
	"/usr/local/share/povray-3.7/include",
}

// fileExts are the extensions (lower case, with the dot) of quoted strings
// Inspect treats as references to files the scene reads.
var fileExts = map[string]bool{
	".inc": true, ".pov": true, ".png": true, ".jpg": true, ".jpeg": true,
	".tga": true, ".gif": true, ".ppm": true, ".pgm": true, ".pbm": true,
	".iff": true, ".hdr": true, ".exr": true, ".df3": true, ".obj": true,
	".bmp": true, ".tif": true, ".tiff": true, ".sys": true, ".ttf": true,
	".otf": true, ".txt": true, ".csv": true, ".dat": true, ".mcr": true,
}

// iniInfo is what Inspect learns from an .ini file.
type iniInfo struct {
	input                string // Input_File_Name, slash-separated, as written
	width, height        int
	frameStart, frameEnd int
	hasFrames            bool
	clockSet             bool // Clock= or +K<n>: a still at a set clock
	clockStart, clockEnd string
}

func sceneErr(file string, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", render.ErrSceneInvalid, file, fmt.Sprintf(format, args...))
}

// Inspect reads a .pov or .ini scene and reports its default frame range,
// resolution and the local files it needs. A plain .pov has frame 1 only
// (1-1) and the default resolution 320x240; an .ini's Width/Height and
// Initial_Frame/Final_Frame (or +W/+H/+KFI/+KFF) are honoured. Files lists
// every #include and every quoted reference with a known file extension that
// exists relative to the main file's directory (followed recursively through
// local includes), plus an .ini's Input_File_Name. Absolute references and
// references escaping the scene directory ("..") are errors wrapping
// render.ErrSceneInvalid, as is a missing #include found neither locally nor
// in POV-Ray's library path.
func (*Backend) Inspect(ctx context.Context, scenePath string) (render.SceneInfo, error) {
	if err := ctx.Err(); err != nil {
		return render.SceneInfo{}, err
	}
	dir, main := filepath.Split(scenePath)
	if dir == "" {
		dir = "."
	}
	si := render.SceneInfo{FrameStart: 1, FrameEnd: 1, Width: DefaultWidth, Height: DefaultHeight}
	files := map[string]bool{}
	if err := render.CheckInside(dir, main); err != nil {
		return render.SceneInfo{}, err
	}
	if isIni(main) {
		ini, err := readIni(scenePath)
		if err != nil {
			return render.SceneInfo{}, err
		}
		if ini.width > 0 {
			si.Width = ini.width
		}
		if ini.height > 0 {
			si.Height = ini.height
		}
		si.FrameStart, si.FrameEnd = ini.frameStart, ini.frameEnd
		if ini.input == "" {
			return render.SceneInfo{}, sceneErr(main, "no Input_File_Name")
		}
		rel, err := localRef(main, ini.input)
		if err != nil {
			return render.SceneInfo{}, err
		}
		if err := render.CheckInside(dir, rel); err != nil {
			return render.SceneInfo{}, err
		}
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			return render.SceneInfo{}, sceneErr(main, "Input_File_Name %q: %v", ini.input, err)
		}
		files[rel] = true
		if err := scanPOV(ctx, dir, rel, files); err != nil {
			return render.SceneInfo{}, err
		}
	} else {
		if _, err := os.Stat(scenePath); err != nil {
			return render.SceneInfo{}, sceneErr(main, "%v", err)
		}
		if err := scanPOVInto(ctx, dir, main, map[string]bool{}, files); err != nil {
			return render.SceneInfo{}, err
		}
	}
	delete(files, main)
	for f := range files {
		si.Files = append(si.Files, f)
	}
	slices.Sort(si.Files)
	return si, nil
}

func isIni(name string) bool { return strings.EqualFold(filepath.Ext(name), ".ini") }

// localRef checks that ref (as written in file) is a relative path staying
// inside the scene directory and returns it cleaned and slash-separated.
func localRef(file, ref string) (string, error) {
	s := strings.ReplaceAll(ref, `\`, "/")
	if path.IsAbs(s) || filepath.IsAbs(ref) || filepath.VolumeName(ref) != "" || (len(s) > 1 && s[1] == ':') {
		return "", sceneErr(file, "absolute file reference %q", ref)
	}
	c := path.Clean(s)
	if c == ".." || strings.HasPrefix(c, "../") || !filepath.IsLocal(filepath.FromSlash(c)) {
		return "", sceneErr(file, "file reference %q escapes the scene directory", ref)
	}
	return c, nil
}

func inLibrary(ref string) bool {
	for _, d := range libraryDirs {
		if _, err := os.Stat(filepath.Join(d, filepath.FromSlash(ref))); err == nil {
			return true
		}
	}
	return false
}

// scanPOV collects into files the local references of the .pov/.inc file
// rel (relative to dir), recursively.
func scanPOV(ctx context.Context, dir, rel string, files map[string]bool) error {
	return scanPOVInto(ctx, dir, rel, files, files)
}

// scanPOVInto scans rel, recording visited files in seen and references in
// files.
func scanPOVInto(ctx context.Context, dir, rel string, seen, files map[string]bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	seen[rel] = true
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return sceneErr(rel, "%v", err)
	}
	for _, r := range references(string(data)) {
		ext := strings.ToLower(path.Ext(strings.ReplaceAll(r.s, `\`, "/")))
		if !r.include && !fileExts[ext] {
			continue
		}
		c, err := localRef(rel, r.s)
		if err != nil {
			return err
		}
		if err := render.CheckInside(dir, c); err != nil {
			return err
		}
		fi, statErr := os.Stat(filepath.Join(dir, filepath.FromSlash(c)))
		switch {
		case statErr == nil && fi.Mode().IsRegular():
			files[c] = true
			if (r.include || ext == ".inc" || ext == ".pov" || ext == ".mcr") && !seen[c] {
				if err := scanPOVInto(ctx, dir, c, seen, files); err != nil {
					return err
				}
			}
		case r.include && !inLibrary(c):
			return sceneErr(rel, "#include %q: not found in the scene directory or POV-Ray's library path", r.s)
		}
		// Other references not found locally are system files (stock
		// image maps) or names the scene writes: not packed.
	}
	return nil
}

type ref struct {
	s       string
	include bool // the string follows #include
}

// references returns the string literals of POV-Ray SDL source, skipping
// comments, marking those that directly follow #include.
func references(src string) []ref {
	var out []ref
	lastWord := ""
	for i := 0; i < len(src); {
		c := src[i]
		if j := skipComment(src, i); j != i {
			i = j
			continue
		}
		switch {
		case c == '"':
			var b strings.Builder
			i++
			for i < len(src) && src[i] != '"' && src[i] != '\n' {
				if src[i] == '\\' && i+1 < len(src) && src[i+1] == '"' {
					b.WriteByte('"')
					i += 2
					continue
				}
				b.WriteByte(src[i])
				i++
			}
			i++
			out = append(out, ref{s: b.String(), include: lastWord == "#include"})
			lastWord = ""
		case c == '#' || c == '_' || isAlnum(c):
			j := i + 1
			for j < len(src) && (src[j] == '_' || isAlnum(src[j])) {
				j++
			}
			w := src[i:j]
			if c == '#' && j == i+1 {
				// "# include" is legal: join the following word.
				k := j
				for k < len(src) && (src[k] == ' ' || src[k] == '\t') {
					k++
				}
				e := k
				for e < len(src) && isAlnum(src[e]) {
					e++
				}
				w, j = "#"+src[k:e], e
			}
			lastWord = w
			i = j
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		default:
			lastWord = ""
			i++
		}
	}
	return out
}

// opensForWriting reports whether POV-Ray SDL source uses the words
// "write" or "append" outside comments and strings: the only way to open a
// file for writing (#fopen's mode is a keyword, which no macro or
// computed string can make without the word appearing in some source).
func opensForWriting(src string) bool {
	for i := 0; i < len(src); {
		c := src[i]
		if j := skipComment(src, i); j != i {
			i = j
			continue
		}
		switch {
		case c == '"':
			i++
			for i < len(src) && src[i] != '"' && src[i] != '\n' {
				if src[i] == '\\' && i+1 < len(src) {
					i++
				}
				i++
			}
			i++
		case c == '_' || isAlnum(c):
			j := i + 1
			for j < len(src) && (src[j] == '_' || isAlnum(src[j])) {
				j++
			}
			if w := src[i:j]; w == "write" || w == "append" {
				return true
			}
			i = j
		default:
			i++
		}
	}
	return false
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// readIni parses the options renderswarm needs from a POV-Ray .ini file:
// "Key=Value" lines and "+Xn" switches; ';' starts a comment.
func readIni(p string) (iniInfo, error) {
	name := filepath.Base(p)
	data, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return iniInfo{}, sceneErr(name, "not found")
		}
		return iniInfo{}, sceneErr(name, "%v", err)
	}
	ini := iniInfo{frameStart: 1, frameEnd: 1}
	startSet, endSet := false, false
	atoi := func(key, v string) (int, error) {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, sceneErr(name, "%s=%q: not a number", key, v)
		}
		return int(f), nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "[") {
			continue
		}
		type kv struct{ key, val string }
		var pairs []kv
		if k, v, ok := strings.Cut(line, "="); ok && line[0] != '+' && line[0] != '-' {
			pairs = append(pairs, kv{strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)})
		} else if line[0] == '+' || line[0] == '-' {
			for _, f := range strings.Fields(line) {
				if len(f) < 2 || (f[0] != '+' && f[0] != '-') {
					continue
				}
				sw := f[1:]
				for _, m := range []struct{ prefix, key string }{
					{"kff", "final_frame"}, {"kfi", "initial_frame"}, {"ki", "initial_clock"},
					{"kf", "final_clock"}, {"k", "clock"}, {"w", "width"}, {"h", "height"}, {"i", "input_file_name"},
				} {
					if len(sw) > len(m.prefix) && strings.EqualFold(sw[:len(m.prefix)], m.prefix) {
						v := sw[len(m.prefix):]
						if m.key != "input_file_name" && !strings.ContainsRune("0123456789.-", rune(v[0])) {
							break // +WT1, +KC, +HT...: other switches
						}
						pairs = append(pairs, kv{m.key, v})
						break
					}
				}
			}
		}
		for _, p := range pairs {
			key, val := p.key, p.val
			val = strings.TrimSpace(strings.Trim(val, `"`))
			if val == "" {
				continue // "Final_Frame=" as in POV-Ray's templates: unset
			}
			var n int
			switch key {
			case "input_file_name":
				ini.input = val
			case "width":
				if n, err = atoi(key, val); err != nil {
					return ini, err
				}
				ini.width = n
			case "height":
				if n, err = atoi(key, val); err != nil {
					return ini, err
				}
				ini.height = n
			case "initial_frame":
				if n, err = atoi(key, val); err != nil {
					return ini, err
				}
				ini.frameStart, startSet = n, true
			case "final_frame":
				if n, err = atoi(key, val); err != nil {
					return ini, err
				}
				ini.frameEnd, endSet = n, true
			case "clock":
				if _, err := strconv.ParseFloat(val, 64); err == nil {
					ini.clockSet = true
				}
			case "initial_clock":
				ini.clockStart = val
			case "final_clock":
				ini.clockEnd = val
			}
		}
	}
	ini.hasFrames = startSet || endSet
	if startSet && !endSet {
		ini.frameEnd = ini.frameStart
	}
	if ini.frameStart < 0 || ini.frameEnd < ini.frameStart {
		return ini, sceneErr(name, "frame range %d-%d", ini.frameStart, ini.frameEnd)
	}
	if ini.width < 0 || ini.height < 0 || ini.width > render.MaxSide || ini.height > render.MaxSide {
		return ini, sceneErr(name, "resolution %dx%d", ini.width, ini.height)
	}
	return ini, nil
}

// skipComment returns where the comment starting at src[i] ends: at the
// newline of a line comment (or the end of src), after the closing */ of a
// block comment (POV-Ray's nest). It returns i when none starts there.
func skipComment(src string, i int) int {
	switch {
	case strings.HasPrefix(src[i:], "//"):
		j := strings.IndexByte(src[i:], '\n')
		if j < 0 {
			return len(src)
		}
		return i + j
	case strings.HasPrefix(src[i:], "/*"):
		depth := 0
		for i < len(src) {
			switch {
			case strings.HasPrefix(src[i:], "/*"):
				depth++
				i += 2
			case strings.HasPrefix(src[i:], "*/"):
				depth--
				i += 2
				if depth == 0 {
					return i
				}
			default:
				i++
			}
		}
	}
	return i
}
