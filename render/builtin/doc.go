// Package builtin is renderswarm's embedded renderer: a small pure-Go path
// tracer whose output is bit-identical for the same scene, frame and
// settings on every machine, thread count and border split, so replicas can
// be verified exactly (DESIGN.md §5: the builtin profile is "exact only").
//
// It imports only the standard library and package render.
//
// # Scene files
//
// A scene is a UTF-8 text file (by convention NAME.scene) of at most 1 MiB,
// plus the Wavefront OBJ meshes it names. The first non-blank line must be
// exactly
//
//	renderswarm-scene 1
//
// Every further line is a keyword followed by field=value pairs separated by
// spaces; '#' starts a comment. Numbers are decimal (1, -0.5, 2e3); vectors
// and colours are three numbers joined by commas, no spaces (0.8,0.2,0.1).
// Every problem is reported on one line naming the file, line and field:
//
//	demo.scene:12: sphere.radius: -1 outside 1e-06..1e+06
//
// Keywords and their fields (defaults in brackets):
//
//	settings frames=FIRST-LAST [1-1] resolution=WxH [320x180] samples=N [16]
//	         bounces=N [6]                                 (N ≤ 65536, bounces ≤ 64)
//	sky      horizon=RGB zenith=RGB ground=RGB             background gradient, also lights the scene
//	sun      dir=XYZ color=RGB [1,1,1] strength=S [1]      directional light, dir points towards it
//	material name=NAME type=diffuse|metal|glass|emissive color=RGB
//	         color2=RGB checker=SIZE (diffuse: 3-D checker of cells SIZE wide in object space)
//	         fuzz=0..1 (metal roughness) ior=1..4 [1.5] (glass) strength=S [1] (emissive)
//	camera   pos=XYZ [0,1,5] look=XYZ [0,0,0] up=XYZ [0,1,0] fov=DEGREES [40] (vertical)
//	sphere   material=NAME radius=R [1]        + transform
//	plane    material=NAME                     + transform  (the infinite plane y=0, normal +y)
//	box      material=NAME size=XYZ [1,1,1]    + transform  (centred on the origin)
//	mesh     material=NAME file=PATH smooth=true|false [false] + transform
//	light    pos=XYZ radius=R [0.25] color=RGB [1,1,1] strength=S [10]
//	         a spherical lamp, sampled directly at every diffuse bounce
//	key      frame=N ease=linear|smooth [linear] FIELD=VALUE...
//
// A transform is pos=XYZ [0,0,0], rot=XYZ [0,0,0] (degrees about X, then Y,
// then Z) and scale=S [1] (uniform). Materials must be defined before they
// are used; one camera is required.
//
// Animation: a key line sets fields of the camera, shape or light on the
// line above it (camera: pos, look, up, fov; shapes: pos, rot, scale; light:
// pos, color, strength) at frame N. Values on the object's own line count as
// a key at the first frame of settings.frames (a key line at that frame
// wins). Between keys values are interpolated linearly, or with smoothstep
// into a key marked ease=smooth; before the first and after the last key
// they hold. Nothing moves within a frame (no motion blur).
//
// Meshes: PATH is slash-separated and relative to the scene file's
// directory, may not contain ".." or be absolute, and is opened through
// os.Root, so neither a path nor a symlink can reach outside the scene
// directory. Of OBJ, the statements v, vn and f are read (polygons are
// fanned into triangles, negative indices count back, texture coordinates
// are ignored); everything else (o, g, s, usemtl, mtllib, …) is ignored, so
// material libraries are neither read nor packed. smooth=true interpolates
// vertex normals averaged from the faces when the file has no vn. A scene
// holds at most 2,000,000 triangles; an OBJ file at most 64 MiB.
//
// # Output
//
// Render writes an opaque 8-bit sRGB PNG (RGB, no alpha channel, no
// gamma or text chunks) named frame_NNNN.png, or frame_NNNN_X0_Y0_X1_Y1.png
// for a border region, holding exactly the region's pixels. Linear radiance
// is mapped by the rational ACES fit of Narkowicz, clamped, then encoded to
// sRGB.
//
// # Light transport
//
// Unidirectional path tracing with next-event estimation: at every diffuse
// hit the sun (shadow ray) and every light sphere (one cone sample, shadow
// ray) are sampled directly; lamp spheres hit after a diffuse bounce are
// not counted again. Metal reflects (perturbed by fuzz), glass reflects or
// refracts by Schlick's Fresnel term, emissive surfaces end paths. Paths
// stop after settings.bounces, and from the fourth bounce on by Russian
// roulette. Meshes use a binned-SAH bounding volume hierarchy; shapes are
// culled by their world bounds.
//
// # Determinism
//
// Every pixel is the mean of its samples summed in sample order; sample s
// of pixel (x, y) draws from its own SplitMix64 stream seeded by a hash of
// (seed, frame, x, y, s), with coordinates of the full frame. No RNG state
// is shared, so neither the thread count nor the tile order nor a border
// split can change a pixel. Workers take 16×16 tiles from an atomic counter.
//
// The floating point is kept reproducible across CPUs and compilers:
//
//   - Every product is written float64(a*b). Go may fuse x*y+z into one FMA
//     instruction (it does on arm64, ppc64le, s390x, riscv64, and on amd64
//     with GOAMD64=v3), which rounds once instead of twice; an explicit
//     conversion forces the rounding and forbids the fusion. The vector
//     helpers in vec.go follow the rule, and TestNoUnroundedProducts checks
//     every product in the package with go/types.
//   - Only +, -, *, /, math.Sqrt (correctly rounded by IEEE 754), math.Floor,
//     math.Abs, min and max reach a pixel. math.Sin, Cos, Pow, Exp and Log
//     have architecture-specific implementations, so sin/cos (camera fov,
//     rotations, direction sampling) are Taylor polynomials after a range
//     reduction, and the sRGB curve is a table of 255 code boundaries built
//     at start-up by bisection with * and compared against by binary search.
//   - TestPixelsSameWithFMABuild rebuilds the tests with GOAMD64=v3, checks
//     that that build does fuse, and compares digests of the exact float64
//     pixel values and of the PNG pixels with the default build.
//   - The BVH build is deterministic (stable partitions, ties broken by
//     triangle order), so equal-distance hits resolve the same way.
//
// Version names the output: bump it whenever any pixel of any scene may
// change. TestGoldenPixels pins one render's digest to catch accidents.
package builtin
