package builtin

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/renderswarm/renderswarm/render"
)

// Name is the backend's registry name.
const Name = "builtin"

// Version is the exact version of the renderer's output: it changes
// whenever any pixel of any scene could change, since verification compares
// pixels exactly.
const Version = "1.0.0"

// Renderer is the builtin backend. The zero value is ready to use.
type Renderer struct {
	scenes sceneCache // the latest scenes loaded
}

var (
	_ render.Backend       = (*Renderer)(nil)
	_ render.ImageRenderer = (*Renderer)(nil)
)

// New returns the builtin backend.
func New() *Renderer { return &Renderer{} }

// Probe never fails: the renderer is part of the binary.
func (*Renderer) Probe(context.Context) (render.Info, error) {
	return render.Info{Name: Name, Version: Version, Capabilities: render.Capabilities{
		Border: true, Animation: true, Deterministic: true,
	}}, nil
}

// Inspect parses the scene file at scenePath and checks that its meshes
// exist; it does not load them.
func (*Renderer) Inspect(ctx context.Context, scenePath string) (render.SceneInfo, error) {
	dir, file := filepath.Split(scenePath)
	if dir == "" {
		dir = "."
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return render.SceneInfo{}, openErr(scenePath, err)
	}
	defer root.Close()
	// The root refuses links leaving the folder too; this names them.
	if err := render.CheckInside(dir, file); err != nil {
		return render.SceneInfo{}, err
	}
	sc, err := readScene(root, file, scenePath)
	if err != nil {
		return render.SceneInfo{}, err
	}
	files := slices.Clone(sc.files)
	slices.Sort(files)
	files = slices.Compact(files)
	for _, f := range files {
		if err := render.CheckInside(dir, f); err != nil {
			return render.SceneInfo{}, err
		}
		if _, err := root.Stat(f); err != nil {
			return render.SceneInfo{}, missingMesh(file, f, err)
		}
	}
	return render.SceneInfo{
		FrameStart: sc.frameStart, FrameEnd: sc.frameEnd,
		Width: sc.width, Height: sc.height, Samples: sc.samples, Files: files,
	}, nil
}

func missingMesh(scene, mesh string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return &SyntaxError{File: scene, Field: "mesh.file", Msg: fmt.Sprintf("%s: file not found", mesh)}
	}
	return &SyntaxError{File: scene, Field: "mesh.file", Msg: fmt.Sprintf("%s: %v", mesh, err)}
}

// openErr reports a scene file that cannot be opened, as "invalid scene:
// NAME: REASON".
func openErr(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%w: %s: %v", render.ErrSceneInvalid, name, err)
}

// readScene reads and parses name (slash-separated) inside root; shown is
// the name for messages about opening it.
func readScene(root *os.Root, name, shown string) (*scene, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, openErr(shown, err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, maxSceneBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading scene %s: %v", render.ErrSceneInvalid, name, err)
	}
	return parseScene(path.Base(name), src)
}

// loadScene parses the task's scene and loads its meshes (files relative to
// the scene file, never outside t.SceneDir). It returns the files read,
// stamped as they were before reading.
func loadScene(t render.Task) (*scene, []stamp, error) {
	root, err := os.OpenRoot(t.SceneDir)
	if err != nil {
		return nil, nil, openErr(t.SceneDir, err)
	}
	defer root.Close()
	if !localPath(t.SceneFile) {
		return nil, nil, fmt.Errorf("%w: scene file %q is not inside the scene directory", render.ErrTaskInvalid, t.SceneFile)
	}
	var files []stamp
	stampOf := func(name string) {
		if fi, err := root.Stat(name); err == nil {
			files = append(files, stamp{path: name, size: fi.Size(), mod: fi.ModTime()})
		}
	}
	stampOf(t.SceneFile)
	sc, err := readScene(root, t.SceneFile, t.SceneFile)
	if err != nil {
		return nil, nil, err
	}
	base := path.Dir(t.SceneFile)
	meshes := map[string]*meshData{}
	budget := maxTriangles
	for _, e := range sc.entities {
		if e.kind != entMesh {
			continue
		}
		k := fmt.Sprint(e.file, e.smooth)
		if m, ok := meshes[k]; ok {
			e.mesh = m
			continue
		}
		stampOf(path.Join(base, e.file))
		f, err := root.Open(path.Join(base, e.file))
		if err != nil {
			return nil, nil, missingMesh(path.Base(t.SceneFile), e.file, err)
		}
		tris, err := parseOBJ(e.file, f, budget, e.smooth)
		f.Close()
		if err != nil {
			return nil, nil, err
		}
		budget -= len(tris)
		e.mesh = newMesh(tris)
		meshes[k] = e.mesh
	}
	return sc, files, nil
}

// Render renders t. Samples 0 means the scene's default. The output is an
// opaque 8-bit RGB PNG named frame_NNNN.png, or frame_NNNN_X0_Y0_X1_Y1.png
// for a border region.
func (r *Renderer) Render(ctx context.Context, t render.Task, progress func(render.Progress)) (render.Result, error) {
	if err := t.CheckExtras(); err != nil {
		return render.Result{}, err
	}
	if err := t.Validate(); err != nil {
		return render.Result{}, err
	}
	if progress == nil {
		progress = func(render.Progress) {}
	}
	img, cpu, err := r.render(ctx, t, progress)
	if err != nil {
		return render.Result{}, err
	}
	name := fmt.Sprintf("frame_%04d.png", t.Frame)
	if b := t.Border; b != nil {
		name = fmt.Sprintf("frame_%04d_%d_%d_%d_%d.png", t.Frame, b.X0, b.Y0, b.X1, b.Y1)
	}
	out := filepath.Join(t.OutputDir, name)
	if err := writePNG(out, img); err != nil {
		return render.Result{}, err
	}
	progress(render.Progress{Fraction: 1, Message: "done"})
	b := img.Bounds()
	return render.Result{Path: out, Width: b.Dx(), Height: b.Dy(), CPU: cpu}, nil
}

// RenderImage is Render into memory (render.ImageRenderer): the image
// Render would write, decoded. t.OutputDir is not used, and t may ask for
// no extras.
func (r *Renderer) RenderImage(ctx context.Context, t render.Task) (image.Image, error) {
	if len(t.Extras) > 0 {
		return nil, fmt.Errorf("%w: extras are files, rendered only by Render", render.ErrUnsupported)
	}
	t.OutputDir = "-" // written nowhere
	if err := t.Validate(); err != nil {
		return nil, err
	}
	img, _, err := r.render(ctx, t, func(render.Progress) {})
	return img, err
}

// render renders validated task t, returning the image and the CPU time
// the tracer spent.
func (r *Renderer) render(ctx context.Context, t render.Task, progress func(render.Progress)) (*image.RGBA, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if err := checkMemory(t, 0); err != nil {
		return nil, 0, err
	}
	progress(render.Progress{Message: "loading scene"})
	sc, err := r.scenes.load(t)
	if err != nil {
		return nil, 0, err
	}
	if err := checkMemory(t, sc.triangles()); err != nil {
		return nil, 0, err
	}
	if t.Samples == 0 {
		t.Samples = sc.samples
	}
	if t.Threads == 0 {
		t.Threads = runtime.NumCPU()
	}
	start := time.Now()
	img, err := renderImage(ctx, sc.at(t.Frame, t.Width, t.Height), t, progress)
	if err != nil {
		return nil, 0, err
	}
	// The tracer's threads take 16×16 tiles until none is left, flat out:
	// its CPU time is the wall time times the threads it ran.
	reg := t.Region()
	tiles := ((reg.Dx() + tileSize - 1) / tileSize) * ((reg.Dy() + tileSize - 1) / tileSize)
	return img, time.Since(start) * time.Duration(min(t.Threads, tiles)), nil
}

// Memory a render holds, about: the image (RGBA, 4 bytes a pixel) twice
// (the PNG encoder's copy), a base for the scene's entities and the
// tracer, and per triangle its vertices, normals and BVH nodes.
const (
	baseMemory        = 32 << 20
	bytesPerTriangle  = 400
	bytesPerPixelHeld = 2 * 4
)

// checkMemory refuses a task whose render would hold more than the task's
// memory limit, with tris triangles loaded. The renderer runs in the
// node's process, where no resource limit can hold it alone, so it
// counts instead.
func checkMemory(t render.Task, tris int) error {
	r := t.Region()
	need := baseMemory + bytesPerPixelHeld*int64(r.Dx())*int64(r.Dy()) + bytesPerTriangle*int64(tris)
	if lim := render.MemoryLimitOf(t); need > lim {
		return fmt.Errorf("%w: a %dx%d image of %d triangles needs about %s, over the task's memory limit of %s",
			render.ErrTaskInvalid, r.Dx(), r.Dy(), tris, render.Size(need), render.Size(lim))
	}
	return nil
}

// encoder reuses its compressor's buffers from one image to the next:
// setting one up costs more than compressing a small tile. The bytes are
// png.Encode's.
var encoder = png.Encoder{BufferPool: &encoderPool{}}

type encoderPool struct{ p sync.Pool }

func (e *encoderPool) Get() *png.EncoderBuffer {
	b, _ := e.p.Get().(*png.EncoderBuffer)
	return b
}

func (e *encoderPool) Put(b *png.EncoderBuffer) { e.p.Put(b) }

// writePNG writes img to a temporary file next to out and renames it, so
// out is either absent or complete.
func writePNG(out string, img image.Image) error {
	f, err := os.CreateTemp(filepath.Dir(out), ".frame-*.png")
	if err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	err = encoder.Encode(f, img)
	if err == nil {
		err = f.Chmod(0o644) // CreateTemp makes it private
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), out)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return nil
}

const tileSize = 16

// renderImage renders t's region of w with t.Threads goroutines taking
// 16×16 tiles from a shared counter. Each pixel depends only on (seed,
// frame, x, y, samples), so the split does not change the result.
func renderImage(ctx context.Context, w *world, t render.Task, progress func(render.Progress)) (*image.RGBA, error) {
	reg := t.Region()
	img := image.NewRGBA(image.Rect(0, 0, reg.Dx(), reg.Dy()))
	tx, ty := (reg.Dx()+tileSize-1)/tileSize, (reg.Dy()+tileSize-1)/tileSize
	total := tx * ty
	var next, done atomic.Int64
	var stop atomic.Bool
	defer context.AfterFunc(ctx, func() { stop.Store(true) })()
	var wg sync.WaitGroup
	for range min(t.Threads, total) {
		wg.Go(func() {
			for !stop.Load() {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				x0, y0 := reg.X0+(i%tx)*tileSize, reg.Y0+(i/tx)*tileSize
				renderTile(w, t, img, reg, x0, y0, &stop)
				done.Add(1)
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	msg := fmt.Sprintf("frame %d", t.Frame)
	for {
		select {
		case <-finished:
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return img, nil
		case <-tick.C:
			progress(render.Progress{Fraction: float64(float64(float64(done.Load())/float64(total)) * 0.99), Message: msg})
		}
	}
}

func renderTile(w *world, t render.Task, img *image.RGBA, reg render.Rect, x0, y0 int, stop *atomic.Bool) {
	for y := y0; y < min(y0+tileSize, reg.Y1); y++ {
		if stop.Load() {
			return
		}
		for x := x0; x < min(x0+tileSize, reg.X1); x++ {
			c := w.pixel(t, x, y)
			off := img.PixOffset(x-reg.X0, y-reg.Y0)
			img.Pix[off+0] = encodeSRGB(tonemap(c.x))
			img.Pix[off+1] = encodeSRGB(tonemap(c.y))
			img.Pix[off+2] = encodeSRGB(tonemap(c.z))
			img.Pix[off+3] = 255
		}
	}
}

// pixel is the linear colour of pixel (x, y) of the full frame: the mean of
// t.Samples paths, summed in sample order.
func (w *world) pixel(t render.Task, x, y int) vec {
	var sum vec
	for s := range t.Samples {
		r := newRNG(t.Seed, t.Frame, x, y, s)
		jx, jy := r.float(), r.float()
		o, d := w.cam.ray(float64(x)+jx, float64(y)+jy)
		sum = sum.add(w.radiance(o, d, &r))
	}
	return sum.scale(1 / float64(t.Samples))
}
