package publisher

import (
	"context"
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
// copies them with the main file into a new directory under tmp. Files
// referenced with "../" are kept at their place relative to the main file,
// so the root is the deepest directory that holds them all.
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
	info, err := b.Inspect(ctx, abs)
	if err != nil {
		return packedScene{}, err
	}
	mainDir := filepath.Dir(abs)
	files := append([]string{filepath.Base(abs)}, info.Files...)
	// up is how many levels above the main file's directory the root lies.
	up := 0
	for _, f := range files {
		if path.IsAbs(f) {
			return packedScene{}, fmt.Errorf("scene %s refers to absolute path %s", scenePath, f)
		}
		clean := path.Clean(f)
		n := 0
		for strings.HasPrefix(clean, "../") {
			clean, n = clean[3:], n+1
		}
		up = max(up, n)
	}
	root := mainDir
	for range up {
		root = filepath.Dir(root)
	}
	name := strings.TrimSuffix(filepath.Base(abs), filepath.Ext(abs))
	dir, err := os.MkdirTemp(tmp, "pack-")
	if err != nil {
		return packedScene{}, err
	}
	stage := filepath.Join(dir, name)
	var main string
	for i, f := range files {
		src := filepath.Join(mainDir, filepath.FromSlash(f))
		rel, err := filepath.Rel(root, src)
		if err != nil || strings.HasPrefix(rel, "..") {
			os.RemoveAll(dir)
			return packedScene{}, fmt.Errorf("scene file %s lies outside %s", f, root)
		}
		if err := fsutil.CopyFile(src, filepath.Join(stage, rel)); err != nil {
			err = unwrapPath(err)
			os.RemoveAll(dir)
			return packedScene{}, fmt.Errorf("packing scene: %w", err)
		}
		if i == 0 {
			main = filepath.ToSlash(rel)
		}
	}
	return packedScene{Dir: stage, Main: main, Info: info}, nil
}

// unwrapPath turns "open /x: no such file" into an error that names the file
// once, for one-line messages.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}
