package blender

// Inspecting a scene: its frames, engine and the files it depends on.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/renderswarm/renderswarm/render"
)

// sceneJSON is what the inspect script prints.
type sceneJSON struct {
	FrameStart int         `json:"frame_start"`
	FrameEnd   int         `json:"frame_end"`
	Width      int         `json:"width"`
	Height     int         `json:"height"`
	Samples    int         `json:"samples"`
	Engine     string      `json:"engine"`
	Deps       [][4]string `json:"deps"` // kind, datablock name, raw path, absolute path
}

// Inspect opens the .blend at scenePath in Blender and reports its frame
// range, resolution, Cycles samples and external files. Absolute paths,
// paths leaving the file's directory and missing files are errors wrapping
// render.ErrSceneInvalid that name the file.
func (b *Backend) Inspect(ctx context.Context, scenePath string) (render.SceneInfo, error) {
	return b.inspect(ctx, scenePath, "")
}

var _ render.RootInspector = (*Backend)(nil)

// InspectRoot is Inspect for a scene in a project: dependencies may lie
// anywhere inside root (linked libraries, and the files those use, at any
// depth), and Files are relative to root.
func (b *Backend) InspectRoot(ctx context.Context, scenePath, root string) (render.SceneInfo, error) {
	return b.inspect(ctx, scenePath, root)
}

func (b *Backend) inspect(ctx context.Context, scenePath, root string) (render.SceneInfo, error) {
	b.setup()
	if b.progErr != nil {
		return render.SceneInfo{}, b.progErr
	}
	abs, err := filepath.Abs(scenePath)
	if err != nil {
		return render.SceneInfo{}, fmt.Errorf("%w: %s: %v", render.ErrSceneInvalid, scenePath, err)
	}
	if err := checkBlend(abs, scenePath); err != nil {
		return render.SceneInfo{}, err
	}
	dir := filepath.Dir(abs)
	if root != "" {
		if dir, err = filepath.Abs(root); err != nil {
			return render.SceneInfo{}, fmt.Errorf("%w: project root %s: %v", render.ErrSceneInvalid, root, err)
		}
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil || !filepath.IsLocal(rel) {
		return render.SceneInfo{}, fmt.Errorf("%w: %s is not inside the project root %s", render.ErrSceneInvalid, scenePath, dir)
	}
	if err := render.CheckInside(dir, filepath.ToSlash(rel)); err != nil {
		return render.SceneInfo{}, err
	}
	tmp, err := os.MkdirTemp("", "renderswarm-blender-")
	if err != nil {
		return render.SceneInfo{}, err
	}
	defer os.RemoveAll(tmp)
	params := map[string]any{"blend": abs}
	mk := newMarkers()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var info *sceneJSON
	var jsonErr error
	err = b.run(ctx, runSpec{blend: abs, sceneDir: dir, work: tmp, script: mk.inspectScript(), params: params, mk: mk,
		memory: render.DefaultMemoryLimit, output: render.OutputLimitOf(render.Task{})},
		func(line string) {
			if rest, ok := strings.CutPrefix(line, mk.info); ok {
				info = new(sceneJSON)
				jsonErr = json.Unmarshal([]byte(rest), info)
			}
		})
	if err != nil {
		return render.SceneInfo{}, fmt.Errorf("inspecting %s: %w", scenePath, err)
	}
	if info == nil || jsonErr != nil {
		return render.SceneInfo{}, fmt.Errorf("inspecting %s: no scene information from Blender (%v)", scenePath, jsonErr)
	}
	if !supportedEngine(info.Engine) {
		return render.SceneInfo{}, fmt.Errorf("%w: %s: render engine %s is not supported (want Cycles or Eevee)",
			render.ErrSceneInvalid, scenePath, info.Engine)
	}
	files, err := checkDeps(scenePath, dir, root != "", info.Deps)
	if err != nil {
		return render.SceneInfo{}, err
	}
	return render.SceneInfo{
		FrameStart: info.FrameStart, FrameEnd: info.FrameEnd,
		Width: info.Width, Height: info.Height, Samples: info.Samples, Files: files,
	}, nil
}

func supportedEngine(e string) bool {
	return e == "CYCLES" || e == "BLENDER_EEVEE" || e == "BLENDER_EEVEE_NEXT"
}

// checkBlend reports a missing or unreadable scene file.
func checkBlend(abs, shown string) error {
	fi, err := os.Stat(abs)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("%w: %s: %v", render.ErrSceneInvalid, shown, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s: not a regular file", render.ErrSceneInvalid, shown)
	}
	return nil
}

// checkDeps turns the script's dependency list into sorted, unique,
// slash-separated paths relative to dir (the scene's folder, or the
// project root when isRoot), rejecting absolute, escaping and missing ones
// (all reported together).
func checkDeps(scene, dir string, isRoot bool, deps [][4]string) ([]string, error) {
	outside := ": outside the scene's directory (publish with --root PROJECT to pack files of a project around it)"
	if isRoot {
		outside = ": outside the project root " + dir
	}
	var files, bad []string
	for _, d := range deps {
		kind, name, raw, abs := d[0], d[1], d[2], d[3]
		shown := fmt.Sprintf("%s %q (%s)", kind, name, raw)
		if !strings.HasPrefix(raw, "//") {
			bad = append(bad, shown+": absolute path; make paths relative (File > External Data > Make Paths Relative)")
			continue
		}
		// Blender resolves "//" against the file (or the linking
		// library); a .blend saved on Windows may hold backslashes.
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(dir, abs)
		}
		abs = filepath.Clean(filepath.FromSlash(strings.ReplaceAll(abs, `\`, "/")))
		rel, err := filepath.Rel(dir, abs)
		if err != nil || !filepath.IsLocal(rel) {
			bad = append(bad, shown+outside)
			continue
		}
		if err := render.CheckInside(dir, filepath.ToSlash(rel)); err != nil {
			bad = append(bad, shown+": "+strings.TrimPrefix(err.Error(), render.ErrSceneInvalid.Error()+": "))
			continue
		}
		if _, err := os.Stat(abs); err != nil {
			bad = append(bad, shown+": file not found")
			continue
		}
		files = append(files, filepath.ToSlash(rel))
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return nil, fmt.Errorf("%w: %s: %s", render.ErrSceneInvalid, scene, strings.Join(slices.Compact(bad), "; "))
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}
