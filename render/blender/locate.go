package blender

import (
	"path"
	"path/filepath"

	"github.com/renderswarm/renderswarm/render"
)

// InstallPaths are the places Blender's installers and package managers
// put it on goos, newest version first, for when it is not on PATH:
//
//	windows  %ProgramFiles%\Blender Foundation\Blender X.Y\blender.exe (the
//	         installer and winget), Steam's common\Blender
//	darwin   /Applications/Blender.app (the disk image and Homebrew's cask),
//	         ~/Applications/Blender.app
//	linux    /snap/bin/blender, a release unpacked as /opt/blender*
//
// glob lists the matches of a pattern (filepath.Glob).
func InstallPaths(goos string, getenv func(string) string, glob func(string) ([]string, error)) []string {
	var out []string
	add := func(pattern string) {
		m, _ := glob(pattern)
		out = append(out, render.NewestFirst(m)...)
	}
	switch goos {
	case "windows":
		// Built with backslashes whatever system the code runs on.
		win := func(parts ...string) string { return path.Join(parts...) }
		for _, pf := range []string{getenv("ProgramFiles"), getenv("ProgramW6432")} {
			if pf != "" {
				add(toWindows(win(pf, "Blender Foundation", "Blender*", "blender.exe")))
			}
		}
		if pf := getenv("ProgramFiles(x86)"); pf != "" {
			out = append(out, toWindows(win(pf, "Steam", "steamapps", "common", "Blender", "blender.exe")))
		}
	case "darwin":
		out = append(out, "/Applications/Blender.app/Contents/MacOS/Blender")
		if h := getenv("HOME"); h != "" {
			out = append(out, filepath.Join(h, "Applications", "Blender.app", "Contents", "MacOS", "Blender"))
		}
	default:
		out = append(out, "/snap/bin/blender")
		add("/opt/blender*/blender")
	}
	return dedupe(out)
}

// toWindows turns a path joined with slashes into one with backslashes.
func toWindows(p string) string {
	b := []byte(p)
	for i, c := range b {
		if c == '/' {
			b[i] = '\\'
		}
	}
	return string(b)
}

func dedupe(paths []string) []string {
	seen := map[string]bool{}
	out := paths[:0]
	for _, p := range paths {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}
