// Package blender carries renderswarm's Blender add-on (the Python package
// in renderswarm_addon/) inside the binary and installs it: into the add-on
// folder Blender itself reports for the user, or as a zip for Blender's own
// installer (Edit > Preferences > Add-ons > Install).
//
// The add-on is a client of the local node's HTTP API, like the CLI: it
// reads the home's api file (RENDERSWARM_HOME, else the default home, or the
// folder set in its preferences) and sends the token; it adds no protocol.
// Its panel sits in the Render properties: the node's state and credits,
// publishing the saved .blend with the scene's frame range, resolution,
// samples and outputs, the job's progress with a thumbnail of the latest
// verified frame, pause, resume and cancel, and verified frames written to
// the scene's output path as they are verified. Everything that waits runs
// from one bpy.app.timers timer (about one tick a second, a few short
// loopback requests each) or, for publishing, on a thread that touches no
// Blender data: Blender's UI never blocks on the grid.
//
// This package imports only the standard library.
package blender

import (
	"archive/zip"
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Module is the add-on's Python package name (its folder in Blender's
// add-on directory).
const Module = "renderswarm_addon"

//go:embed renderswarm_addon/*.py
var files embed.FS

// Files is the add-on's Python package, rooted at its folder's parent (so
// paths read "renderswarm_addon/__init__.py").
func Files() fs.FS { return files }

// WriteZip writes the add-on as a zip Blender's add-on installer accepts:
// one top-level folder, the package.
func WriteZip(w io.Writer) error {
	zw := zip.NewWriter(w)
	err := fs.WalkDir(files, Module, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := zw.CreateHeader(&zip.FileHeader{Name: p, Method: zip.Deflate, Modified: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			return err
		}
		_, err = f.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	return zw.Close()
}

// Install writes the add-on into addonsDir/renderswarm_addon, replacing an
// earlier copy (a stale module left beside the new ones could still load),
// and returns the folder it wrote.
func Install(addonsDir string) (string, error) {
	dst := filepath.Join(addonsDir, Module)
	if err := os.MkdirAll(addonsDir, 0o755); err != nil {
		return "", fmt.Errorf("add-on folder: %w", err)
	}
	tmp, err := os.MkdirTemp(addonsDir, "."+Module+"-")
	if err != nil {
		return "", fmt.Errorf("add-on folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	err = fs.WalkDir(files, Module, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(tmp, path.Base(p)), b, 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("writing the add-on: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := os.RemoveAll(dst); err != nil {
		return "", fmt.Errorf("removing the old add-on: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", fmt.Errorf("installing the add-on: %w", err)
	}
	return dst, nil
}

// addonsDirScript prints the user's add-on folder as Blender resolves it
// (BLENDER_USER_SCRIPTS, else the per-version config folder).
const addonsDirScript = `import bpy; print("RENDERSWARM_ADDONS " + bpy.utils.user_resource('SCRIPTS', path="addons"), flush=True)`

// AddonsDir asks the Blender at program where the user's add-ons live.
func AddonsDir(ctx context.Context, program string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, program, "-b", "--factory-startup", "--python-expr", addonsDirScript)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("asking %s for its add-on folder: %w", program, err)
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if dir, ok := strings.CutPrefix(strings.TrimSpace(l), "RENDERSWARM_ADDONS "); ok && filepath.IsAbs(dir) {
			return dir, nil
		}
	}
	return "", errors.New("Blender printed no add-on folder")
}
