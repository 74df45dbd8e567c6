//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/renderswarm/renderswarm/bench/internal/benchproc"
	"github.com/renderswarm/renderswarm/render/povray"
)

// scene is one benchmark scene and the settings every path renders it with.
type scene struct {
	renderer      string // registry name: blender or povray
	program       string // the renderer's executable
	path          string // main file, absolute
	width, height int
	// samples is passed to every path explicitly: without --samples,
	// publish gives a POV-Ray scene 1 sample (no antialiasing) while
	// render keeps the .ini's own antialiasing.
	samples int
	frames  int // 1..frames
	desc    string
}

func (s *scene) res() string { return fmt.Sprintf("%dx%d", s.width, s.height) }

// publishArgs are the flags `publish` and `render` share.
func (s *scene) publishArgs() []string {
	a := []string{"--renderer", s.renderer, "--resolution", s.res()}
	if s.samples > 0 {
		a = append(a, "--samples", strconv.Itoa(s.samples))
	}
	return a
}

// directCmd is the plain renderer command a user would type for one
// frame, with the settings the backend passes (render/blender,
// render/povray) minus the sandbox, writing into outDir. threads 0 means
// all cores (each renderer's default).
func (s *scene) directCmd(frame int, outDir string, threads int) (dir string, args []string) {
	f := strconv.Itoa(frame)
	switch s.renderer {
	case "blender":
		// The .blend already holds what the backend's script pins
		// (resolution, samples, seed, dither 0, denoising and adaptive
		// sampling off, 8-bit RGBA PNG); -t 0 is all cores.
		return filepath.Dir(s.path), []string{"-b", "--factory-startup", "--disable-autoexec", s.path,
			"-o", filepath.Join(outDir, "frame_####"), "-t", strconv.Itoa(threads), "-f", f}
	default:
		// The backend's switches (povray.go args): the .ini's frame,
		// 8-bit PNG, size, no display, no pause, render blocks of 32,
		// jitter off; +WT1 there, all cores here unless threads says.
		wt := threads
		if wt == 0 {
			wt = numCPU
		}
		return filepath.Dir(s.path), append([]string{s.path, "+SF" + f, "+EF" + f,
			"+O" + filepath.Join(outDir, "frame.png"), "+FN8",
			"+W" + strconv.Itoa(s.width), "+H" + strconv.Itoa(s.height),
			"-D", "-P", "+WT" + strconv.Itoa(wt), "+BS32"}, povray.SamplesArgs(s.samples)...)
	}
}

// makeBlenderScene writes dir/scene.blend with Blender itself.
func makeBlenderScene(ctx context.Context, program, dir string, frames int) (*scene, error) {
	s := &scene{renderer: "blender", program: program, path: filepath.Join(dir, "scene.blend"),
		width: 320, height: 180, samples: 16, frames: frames,
		desc: "Cycles CPU, floor + cube (animated) + chrome sphere + gold torus, area light, 320x180, 16 samples"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p, _ := json.Marshal(map[string]any{"out": s.path, "width": s.width, "height": s.height,
		"samples": s.samples, "frames": frames})
	_, _, err := benchproc.Run(ctx, 2*time.Minute, dir, os.Environ(), program, "-b", "--factory-startup",
		"--python-exit-code", "1", "--python-expr", blenderScript, "--", string(p))
	if err != nil {
		return nil, fmt.Errorf("generating the Blender scene: %w", err)
	}
	return s, nil
}

// blenderScript builds the scene and pins in the file what the backend's
// render script pins per task, so that a plain `blender -b scene.blend -f N`
// renders the same pixels.
const blenderScript = `
import bpy, json, math, sys
P = json.loads(sys.argv[sys.argv.index("--") + 1])
bpy.ops.wm.read_factory_settings(use_empty=True)
s = bpy.context.scene
s.render.engine = 'CYCLES'
c = s.cycles
c.device = 'CPU'
c.samples = P["samples"]
c.seed = 0
c.use_animated_seed = False
c.use_adaptive_sampling = False
c.time_limit = 0.0
c.use_denoising = False
for vl in s.view_layers:
    vl.cycles.use_denoising = False
r = s.render
r.resolution_x, r.resolution_y, r.resolution_percentage = P["width"], P["height"], 100
r.dither_intensity = 0.0
r.threads_mode = 'AUTO'
r.use_stamp = False
r.use_border = False
im = r.image_settings
im.file_format, im.color_mode, im.color_depth, im.compression = 'PNG', 'RGBA', '8', 15
s.frame_start, s.frame_end = 1, P["frames"]
s.view_settings.view_transform = 'Standard'
world = bpy.data.worlds.new("World")
world.use_nodes = True
world.node_tree.nodes["Background"].inputs[0].default_value = (0.4, 0.5, 0.7, 1)
world.node_tree.nodes["Background"].inputs[1].default_value = 0.6
s.world = world

def material(name, rgb, rough, metal):
    m = bpy.data.materials.new(name)
    m.use_nodes = True
    b = m.node_tree.nodes["Principled BSDF"]
    b.inputs["Base Color"].default_value = (*rgb, 1)
    b.inputs["Roughness"].default_value = rough
    b.inputs["Metallic"].default_value = metal
    return m

bpy.ops.mesh.primitive_plane_add(size=20)
bpy.context.active_object.data.materials.append(material("Floor", (0.6, 0.6, 0.6), 0.5, 0.0))
bpy.ops.mesh.primitive_cube_add(size=1.2, location=(-1.5, 0, 0.6))
cube = bpy.context.active_object
cube.data.materials.append(material("Red", (0.8, 0.1, 0.1), 0.4, 0.0))
bpy.ops.mesh.primitive_uv_sphere_add(radius=0.8, location=(0.5, 0.3, 0.8), segments=48, ring_count=24)
bpy.ops.object.shade_smooth()
bpy.context.active_object.data.materials.append(material("Chrome", (0.9, 0.9, 0.9), 0.05, 1.0))
bpy.ops.mesh.primitive_torus_add(location=(2.2, -0.5, 0.35))
bpy.ops.object.shade_smooth()
bpy.context.active_object.data.materials.append(material("Gold", (1.0, 0.7, 0.2), 0.25, 1.0))
for f, a in ((1, 0), (max(2, P["frames"]), 90)):
    cube.rotation_euler = (0, 0, math.radians(a))
    cube.keyframe_insert("rotation_euler", frame=f)
bpy.ops.object.light_add(type='AREA', location=(2, -3, 5))
l = bpy.context.active_object
l.data.energy = 800
l.data.size = 2
l.rotation_euler = (math.radians(30), 0, math.radians(30))
bpy.ops.object.camera_add(location=(0, -8, 3.5), rotation=(math.radians(72), 0, 0))
s.camera = bpy.context.active_object
bpy.ops.wm.save_as_mainfile(filepath=P["out"], compress=False)
`

// makePOVScene writes dir/scene.ini and dir/scene.pov: an animation whose
// clock turns a box and a torus, with an area light and reflections.
func makePOVScene(program, dir string, frames int) (*scene, error) {
	s := &scene{renderer: "povray", program: program, path: filepath.Join(dir, "scene.ini"),
		width: 320, height: 180, samples: 9, frames: frames,
		desc: "checkered reflective floor, mirror sphere, box + torus turning with the clock, 6x6 area light, 320x180, 9 samples (+A0.0 +AM1 +R3)"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ini := fmt.Sprintf(povIni, s.width, s.height, frames)
	if err := os.WriteFile(s.path, []byte(ini), 0o644); err != nil {
		return nil, err
	}
	return s, os.WriteFile(filepath.Join(dir, "scene.pov"), []byte(povScene), 0o644)
}

const povIni = `Input_File_Name="scene.pov"
Width=%d
Height=%d
Initial_Frame=1
Final_Frame=%d
Initial_Clock=0
Final_Clock=1
`

const povScene = `#version 3.7;
global_settings { assumed_gamma 1.0 max_trace_level 8 }
camera { location <0, 3, -8> look_at <0, 0.8, 0> angle 50 }
light_source {
  <4, 8, -5> color rgb 1.2
  area_light <2, 0, 0>, <0, 0, 2>, 6, 6 adaptive 1 circular orient
}
sky_sphere { pigment { gradient y color_map { [0 rgb <0.6, 0.7, 0.9>] [1 rgb <0.2, 0.3, 0.6>] } } }
plane { y, 0 pigment { checker rgb 0.9, rgb 0.3 } finish { reflection 0.15 } }
sphere { <0.5, 1, 0.5>, 1 pigment { rgb 0.9 } finish { reflection 0.8 specular 0.6 } }
box { <-0.6, 0, -0.6>, <0.6, 1.2, 0.6> rotate y*clock*90 translate <-2, 0, 0>
  pigment { rgb <0.8, 0.1, 0.1> } finish { specular 0.4 } }
torus { 0.7, 0.25 rotate x*90 rotate y*clock*180 translate <2.3, 0.95, -0.3>
  pigment { rgb <1, 0.7, 0.2> } finish { reflection 0.4 metallic specular 0.8 } }
`
