package publisher

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/renderswarm/renderswarm/internal/fsutil"
	"github.com/renderswarm/renderswarm/render"
)

// packedScene is a scene laid out for publishing: every file it needs under
// one root, with the relative layout the renderer expects.
type packedScene struct {
	Dir  string // staging root, to be added as one asset
	Main string // main file, slash path relative to Dir
	Info render.SceneInfo
}

// packScene asks the backend which files the scene at scenePath needs and
// copies them with the main file into a new directory under tmp, at their
// places relative to the main file's directory: the scene folder. Nothing
// outside that folder is ever packed: every path is resolved, symlinks
// included, and a file that leaves the folder (an absolute or "../"
// reference, a link to a file or directory elsewhere, a main file that is
// such a link) is refused in one line naming it; the copy itself goes
// through an os.Root of the folder, so a link swapped in meanwhile is
// refused too.
func packScene(ctx context.Context, b render.Backend, scenePath, tmp string) (packedScene, error) {
	abs, err := filepath.Abs(scenePath)
	if err != nil {
		return packedScene{}, err
	}
	if st, err := os.Stat(abs); err != nil {
		return packedScene{}, fmt.Errorf("scene %s: %w", scenePath, unwrapPath(err))
	} else if !st.Mode().IsRegular() {
		return packedScene{}, fmt.Errorf("scene %s is not a file", scenePath)
	}
	folder, main := filepath.Split(abs)
	if err := render.CheckInside(folder, main); err != nil {
		return packedScene{}, err
	}
	info, err := b.Inspect(ctx, abs)
	if err != nil {
		return packedScene{}, err
	}
	files := append([]string{main}, info.Files...)
	for _, f := range files {
		if path.IsAbs(f) || !filepath.IsLocal(filepath.FromSlash(f)) {
			return packedScene{}, fmt.Errorf("%w: %s: %s is %w", render.ErrSceneInvalid, scenePath, f, render.ErrOutsideScene)
		}
		if err := render.CheckInside(folder, f); err != nil {
			return packedScene{}, err
		}
	}
	root, err := os.OpenRoot(folder)
	if err != nil {
		return packedScene{}, fmt.Errorf("scene folder: %w", unwrapPath(err))
	}
	defer root.Close()
	name := strings.TrimSuffix(main, filepath.Ext(main))
	dir, err := os.MkdirTemp(tmp, "pack-")
	if err != nil {
		return packedScene{}, err
	}
	stage := filepath.Join(dir, name)
	for _, f := range files {
		if err := copyIn(root, path.Clean(f), filepath.Join(stage, filepath.FromSlash(path.Clean(f)))); err != nil {
			os.RemoveAll(dir)
			return packedScene{}, fmt.Errorf("packing scene file %s: %w", f, err)
		}
	}
	return packedScene{Dir: stage, Main: main, Info: info}, nil
}

// copyIn copies the regular file rel inside root to the new file dst
// (0644), creating dst's directories; it never overwrites dst.
func copyIn(root *os.Root, rel, dst string) error {
	in, err := root.Open(filepath.FromSlash(rel))
	if err != nil {
		return unwrapPath(err)
	}
	defer in.Close()
	if st, err := in.Stat(); err != nil {
		return err
	} else if !st.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	return fsutil.CreateFrom(dst, in)
}

// unwrapPath turns "open /x: no such file" into an error that names the file
// once, for one-line messages.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}
