// Package blender is the Blender backend of render.Backend: it renders .blend
// scenes with an installed Blender (Cycles, or Eevee where a GPU context
// exists), headless, one process per chunk of tasks.
//
// # Command lines
//
// Probe runs
//
//	blender --version
//
// and reports the first line's version exactly ("3.4.1"). Inspect and Render
// run
//
//	blender -b --factory-startup --disable-autoexec --python-exit-code 4 \
//	    /abs/scene.blend --python-expr SCRIPT -- PARAMS_JSON
//
// SCRIPT is Python from this package (scripts.go); PARAMS_JSON passes the
// task, so no value is ever spliced into code. --factory-startup ignores the
// user's preferences and add-ons; --disable-autoexec keeps every script
// stored in the .blend (text blocks registered to run on load, drivers,
// handlers) from running: our script is the only Python that runs. The
// environment is replaced by a minimal one (PATH, HOME and TMPDIR in a
// private work directory, C.UTF-8 locale), so PYTHONPATH,
// BLENDER_USER_SCRIPTS and the like cannot inject code. The script first
// checks that Blender really loaded the requested file: when it cannot,
// Blender carries on with its factory scene, which must never be reported or
// rendered instead.
//
// # Inspect
//
// Reports frame_start/frame_end, the resolution scaled by
// resolution_percentage (integer, as Blender does), Cycles samples (0 for
// Eevee) and the external files: non-packed images (UDIM tiles expanded,
// image sequences expanded to every file numbered like the stored one),
// libraries (and, since Blender loads them, the libraries and files those
// link, at any depth), fonts, sounds, movie clips, Alembic/USD cache
// files, volumes (sequences expanded), external OSL scripts of shader
// nodes and sequencer image/movie strips,
// resolved by Blender against the file (or the linking library) and made
// relative to the .blend's directory. A path not stored as "//relative", one
// resolving outside the directory (through ".." or, symlinks resolved, a
// link), or a missing file is an error wrapping render.ErrSceneInvalid
// naming the datablock and path; so is a .blend that is itself a link out
// of its folder. InspectRoot (render.RootInspector) does the same with a
// project root in place of the .blend's directory: a shot may link
// ../lib/props.blend and the textures beside it, all reported relative to
// the root; Blender is then sandboxed with the root, not the shot's
// folder, visible. Scenes whose engine
// is not Cycles or Eevee are rejected.
//
// # Render: settings pinned for reproducibility
//
// Render keeps the file's engine, camera, film (transparency), colour
// management and compositing, and overrides:
//
//   - resolution = Task.Width × Task.Height at 100 %;
//   - Cycles: device CPU, samples = Task.Samples when > 0, seed =
//     Task.Seed mod 2³¹, animated seed off, adaptive sampling off (its
//     convergence test looks at neighbouring pixels, which could break exact
//     border tiles, and it makes the sample count a soft number), time limit
//     off, denoising off (scene and every view layer); Eevee: TAA render
//     samples = Task.Samples when > 0;
//   - dither_intensity = 0 (dither noise is not seeded);
//   - threads: FIXED, Task.Threads or runtime.NumCPU();
//   - frame = Task.Frame (frame_set);
//   - output: PNG, 8-bit, RGBA, compression 15; stamp burn-in off (it can
//     print render time into the pixels); multiview off;
//   - compositor File Output nodes (they write elsewhere) and Denoise nodes
//     are muted;
//   - border: use_border and use_crop_to_border, with the fractions of
//     Task.Border flipped to Blender's bottom-left origin. Blender and Cycles
//     turn a fraction f into the pixel edge int(f·size); borderFractions uses
//     (p+0.25)/size, which hits edge p whether the product is truncated or
//     rounded, despite the float32 Blender stores. The output size is checked
//     against the region after every render.
//
// With these, Cycles on the CPU gives identical decoded pixels for any
// thread count, and four border tiles stitch into the full frame exactly
// (both tested here on Blender 3.4.1). PNG bytes differ (metadata): compare
// decoded pixels.
//
// Before rendering, the script refuses (render.ErrSceneInvalid) absolute,
// escaping or missing dependencies: Blender would otherwise render a missing
// texture as pink and succeed.
//
// Task.Extras "exr" (whole frames only) saves the same render result once
// more as OpenEXR (half float, RGBA, ZIP) and returns it as
// frame_NNNN.exr beside the PNG, checked for OpenEXR's signature. Stamp
// metadata is left out and the times Cycles writes into the header anyway
// are zeroed (same length, in place), so the same pixels give the same
// file byte for byte. Extras are bound to the verified PNG by the
// result's commitment; the publisher compares those of agreeing replicas
// byte for byte and reports a difference without punishing anyone:
// honest replicas on other CPU kernels may differ slightly, which only the
// PNG's tolerant profile allows for.
//
// The frame is written to a private work directory inside Task.OutputDir,
// checked (decodes, region size) and renamed to frame_NNNN.png or
// frame_NNNN_X0_Y0_X1_Y1.png; the work directory is always removed, so a
// failed or cancelled render leaves nothing.
//
// Progress comes from Blender's status lines ("Fra:1 … | Sample 12/64",
// "Rendered 3/12 Tiles", Eevee's "Rendering 5 / 16 samples"), mapped to
// non-decreasing fractions in 0.02..0.98; 1 follows the checked output.
// Cancellation or the context's deadline kills Blender's whole process group
// (SIGKILL) at once. A crash returns Blender's last output line. A render
// that Blender itself aborts (bpy.ops.render.render raising) is a plain
// error, except a missing camera, which is render.ErrSceneInvalid.
//
// # Chunks: one Blender for consecutive tasks
//
// Render keeps the Blender it started, with the scene loaded, and renders
// the next task of the same scene (file, folder and limits) in it: the
// script then reads one task per line on stdin and answers each with the
// done marker and the task's processor time. A volunteer's consecutive
// frames of a job and a publisher's crop checks of one job so pay
// Blender's start-up (about 1 s here) once per chunk, while every task is
// still its own lease, commitment and verification. The chunk (tasks per
// process) follows the measured time per task: as many as fit in two
// minutes, at most 64; a process idle for 20 s exits; a failed, cancelled
// or over-limit task takes its process with it. Pixels are the same as a
// fresh Blender's (tested across frames, a border crop and an extra EXR).
// NoChunks restores one process per task.
//
// # Sandbox
//
// On Linux, when bwrap (bubblewrap) really works here, every Blender run
// (Inspect and Render) goes through render.Sandbox:
//
//	bwrap --unshare-all --die-with-parent --new-session --cap-drop ALL \
//	    --ro-bind /usr /usr (+ the /bin, /sbin, /lib* links) \
//	    --ro-bind-try {/etc/ld.so.cache,/etc/ld.so.conf,/etc/ld.so.conf.d,/etc/alternatives,/etc/localtime} \
//	    --dev /dev --proc /proc --tmpfs /tmp \
//	    --ro-bind SCENE_DIR SCENE_DIR --bind WORK WORK \
//	    --remount-ro /tmp --remount-ro /dev --remount-ro / --chdir WORK -- blender ...
//
// so Blender has no network, sees the system and the scene read-only and can
// write only its work directory (inside the output directory for Render).
// Of /etc it sees only the loader's files and the alternatives links (a
// library such as liblapack.so.3 is reached through them): measured with
// Debian's 3.4.1, Cycles and Eevee render with nothing else; /opt is not
// shown (a Blender unpacked there or in a home gets its own directory
// mounted read-only). Home directories (the node's keys) are not visible.
// Whether the sandbox works is checked once per Backend
// (render.ProbeSandbox): Blender runs in it, and a shell in the same
// sandbox finds the boundaries hold. Where it does not (containers
// without user namespaces, other systems), Blender runs unsandboxed, still
// with --disable-autoexec and the minimal environment; Backend.Sandboxed
// reports which and why, and the node then offers Blender to strangers
// only if its user opted in. NoSandbox turns it off.
//
// # Limits
//
// Every run is started by render.Start under its task's memory limit
// (Task.MemoryLimit, default 4 GiB; RLIMIT_AS of Blender and all it
// starts, set before Blender runs) and output limit (RLIMIT_FSIZE on any
// file, and render.WatchSize on the work directory, which kills Blender's
// process group when its files together pass the limit). A render over
// its output limit fails with render.ErrTaskInvalid; one that Blender
// reports as an allocation failure too. The memory limit is an
// address-space cap, not resident memory: Blender needs about 1 GiB of
// address space just to start, and over the limit it fails in varying
// ways (bad_alloc, "Error writing tile to file", jemalloc failing to start
// a thread, a crash), each reported with the limit.
//
// # Known limits
//
//   - Eevee needs an OpenGL context. Here (Debian's 3.4.1, no GPU) a tiny
//     Eevee frame rendered headless, sandboxed or not, in about 8 s, but
//     machines without a usable GL may fail. The Deterministic and Border
//     capabilities are verified for Cycles on the CPU only: Eevee output
//     depends on the GPU and driver, so Eevee scenes need the tolerant
//     profile. Across CPU kernels (SSE4.1 vs AVX2) Cycles may differ
//     slightly (DESIGN.md §5).
//   - Compositing filters that look at neighbouring pixels (blur, glare)
//     make border tiles differ from the full frame at tile edges.
//   - Alembic caches are listed by the one path the file stores;
//     fluid/particle disk caches, OCIO configs and add-on data are not
//     listed. Sequences are found by name (every file numbered like the
//     stored one), so unrelated files numbered the same way ride along.
//   - Time is bounded by the caller's ctx; memory and output by the
//     task's limits (see Limits), on Windows output only. No cgroup
//     limits: memory Blender's sandbox holds in /dev/shm is not counted.
//   - Task.Seed is reduced mod 2³¹ (Cycles' seed is a 32-bit int).
package blender
