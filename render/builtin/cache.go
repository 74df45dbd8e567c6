package builtin

import (
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/renderswarm/renderswarm/render"
)

// Loaded scenes are kept for the next renders of the same scene: parsing
// it and building its meshes' BVHs can take longer than rendering a small
// tile (a volunteer's next frame of a job, a publisher's crop checks). A
// scene is taken from the cache only while every file it was loaded from
// has the size and modification time it had then; a loaded scene is never
// changed by rendering, so renders share it.

// cachedScenes is how many loaded scenes a Renderer keeps.
const cachedScenes = 4

// stamp identifies a file's content as far as stat can tell.
type stamp struct {
	path string // inside the scene directory
	size int64
	mod  time.Time
}

type cachedScene struct {
	dir, file string
	files     []stamp
	sc        *scene
}

// sceneCache holds the most recently used scenes, newest first.
type sceneCache struct {
	mu      sync.Mutex
	entries []*cachedScene
}

// load returns t's scene from the cache or loads it (loadScene).
func (c *sceneCache) load(t render.Task) (*scene, error) {
	if sc := c.get(t); sc != nil {
		return sc, nil
	}
	sc, files, err := loadScene(t)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = append([]*cachedScene{{dir: t.SceneDir, file: t.SceneFile, files: files, sc: sc}}, c.entries...)
	if len(c.entries) > cachedScenes {
		c.entries = c.entries[:cachedScenes]
	}
	return sc, nil
}

// get returns t's scene if it is cached and its files are unchanged.
func (c *sceneCache) get(t render.Task) *scene {
	c.mu.Lock()
	var e *cachedScene
	for i, x := range c.entries {
		if x.dir == t.SceneDir && x.file == t.SceneFile {
			e = x
			c.entries = append(c.entries[:i], c.entries[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
	if e == nil {
		return nil
	}
	for _, f := range e.files {
		fi, err := os.Stat(filepath.Join(t.SceneDir, filepath.FromSlash(f.path)))
		if err != nil || fi.Size() != f.size || !fi.ModTime().Equal(f.mod) {
			return nil // changed: dropped, and loaded again
		}
	}
	c.mu.Lock()
	c.entries = append([]*cachedScene{e}, c.entries...)
	c.mu.Unlock()
	return e.sc
}
