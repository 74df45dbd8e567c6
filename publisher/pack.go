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
	return packProject(ctx, b, scenePath, "", tmp)
}

// packProject is packScene with a project root: when root is not empty,
// it takes the scene folder's place, so a shot may use files anywhere in
// its project (project/shots/shot.blend linking project/lib/props.blend
// and the textures beside it) and the staged tree keeps their layout
// relative to root, the main file at its place in it. Backends that know
// projects (render.RootInspector) accept dependencies anywhere inside
// root; others still list files beside the main file, rebased on root.
// Anything outside root is refused as outside the scene folder is.
func packProject(ctx context.Context, b render.Backend, scenePath, root, tmp string) (packedScene, error) {
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
	name := strings.TrimSuffix(main, filepath.Ext(main))
	if root != "" {
		if folder, err = filepath.Abs(root); err != nil {
			return packedScene{}, err
		}
		if st, err := os.Stat(folder); err != nil {
			return packedScene{}, fmt.Errorf("project root %s: %w", root, unwrapPath(err))
		} else if !st.IsDir() {
			return packedScene{}, fmt.Errorf("project root %s is not a folder", root)
		}
		rel, err := filepath.Rel(folder, abs)
		if err != nil || !filepath.IsLocal(rel) {
			return packedScene{}, fmt.Errorf("%w: scene %s is not inside the project root %s", render.ErrSceneInvalid, scenePath, root)
		}
		main, name = filepath.ToSlash(rel), filepath.Base(folder)
	}
	if err := render.CheckInside(folder, main); err != nil {
		return packedScene{}, err
	}
	info, err := inspectIn(ctx, b, abs, root, folder, main)
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
	rootFS, err := os.OpenRoot(folder)
	if err != nil {
		return packedScene{}, fmt.Errorf("scene folder: %w", unwrapPath(err))
	}
	defer rootFS.Close()
	dir, err := os.MkdirTemp(tmp, "pack-")
	if err != nil {
		return packedScene{}, err
	}
	stage := filepath.Join(dir, name)
	for _, f := range files {
		if err := copyIn(rootFS, path.Clean(f), filepath.Join(stage, filepath.FromSlash(path.Clean(f)))); err != nil {
			os.RemoveAll(dir)
			return packedScene{}, fmt.Errorf("packing scene file %s: %w", f, err)
		}
	}
	return packedScene{Dir: stage, Main: main, Info: info}, nil
}

// inspectIn asks b for the scene's files, relative to folder (the scene
// folder, or the project root when root is set; main is the scene's path
// relative to it).
func inspectIn(ctx context.Context, b render.Backend, abs, root, folder, main string) (render.SceneInfo, error) {
	if root == "" {
		return b.Inspect(ctx, abs)
	}
	if ri, ok := b.(render.RootInspector); ok {
		return ri.InspectRoot(ctx, abs, folder)
	}
	info, err := b.Inspect(ctx, abs)
	if err != nil {
		return info, err
	}
	files := make([]string, len(info.Files))
	for i, f := range info.Files {
		if path.IsAbs(f) {
			files[i] = f // refused by the caller, by name
			continue
		}
		files[i] = path.Join(path.Dir(main), f)
	}
	info.Files = files
	return info, nil
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
