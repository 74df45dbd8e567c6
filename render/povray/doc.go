// Package povray is the POV-Ray backend of render.Backend: it renders .pov
// scenes, and .ini files naming one (Input_File_Name), by running the
// povray program (Debian: apt-get install povray; measured with 3.7.0.10).
// It imports only the standard library and render.
//
// # Probe
//
// "povray --version" gives the exact version (e.g. "3.7.0.10"); a missing
// or broken program is render.ErrUnavailable. Capabilities: Border (partial
// renders cropped to the region stitch into the full frame pixel for
// pixel), Animation (the clock) and Deterministic (every render is
// single-threaded with jitter off; see below).
//
// # Inspect
//
// A plain .pov has frame 1 only (1-1) and the default resolution 320x240
// (DefaultWidth, DefaultHeight). An .ini's Width/Height, Initial_Frame/
// Final_Frame (or +W/+H/+KFI/+KFF) are honoured; a missing Final_Frame
// equals Initial_Frame. Samples is reported as 0: the scene's own
// antialiasing settings are the default. Files are the local files the
// scene reads: an .ini's Input_File_Name; every #include, followed
// recursively; every other string literal with a known file extension
// (png, jpg, tga, hdr, exr, df3, ttf, obj, inc, ... see fileExts) — all
// relative to the main file's directory, sorted, unique. Comments are
// skipped. References not found locally but present in POV-Ray's library
// path (colors.inc, stock image maps) are not packed; a missing #include
// is render.ErrSceneInvalid, another missing reference is ignored (it may
// be a file the scene writes, or a system file). Absolute references and
// references escaping the scene directory with ".." are
// render.ErrSceneInvalid, and so is a file (the main file too) that a
// symlink takes outside the scene's folder (render.ErrOutsideScene, naming
// it). Names a scene computes at parse time (concat, str) cannot be seen.
//
// # Render
//
// The command line, run in an empty scratch working directory
// (OutputDir/.povray-*/cwd) with HOME=OutputDir/.povray-* and
// POVINI=OutputDir/.povray-*/povray.ini:
//
//	[bwrap ... --] povray <scene.ini> +SF<f> +EF<f>
//	    | <scene.ini> +K<f>        (an .ini setting neither frames nor Clock)
//	    | +I<scene.pov> +K<f>      (a plain .pov: clock = frame number)
//	  +O<scratch>/img/frame.png +FN8 +W<w> +H<h> -D -P +WT1 +BS32 <antialiasing> [<border>]
//
// The generated povray.ini (replacing the system one through $POVINI) has
// the main file's directory as the first Library_Path, then POV-Ray's own
// (/usr/share/povray-3.7/{,ini,include}): includes, image maps, data files
// and an .ini's Input_File_Name resolve as if povray ran in the scene
// directory (a local colors.inc shadows the system one), while files a
// scene writes with relative names (caches, HTML indexes, radiosity saves)
// land in the scratch directory and are discarded.
//
// so an .ini's own clock mapping (Initial/Final_Clock, cyclic animation)
// decides the clock of frame f; f outside the .ini's frame range is
// render.ErrTaskInvalid. Antialiasing: Samples 0 keeps the scene's
// settings; 1 is -A (one ray per pixel); n > 1 is +A0.0 +AM1 +R<k> with
// k = ceil(sqrt(n)) in 2..9, i.e. up to k×k samples per pixel. Jitter is
// always off (-J). +WT1 always: Task.Threads is ignored, because POV-Ray is
// exact only single-threaded (DESIGN.md §5); run several tasks at once for
// parallelism.
//
// Border: POV-Ray renders the region widened to the full frame's grid of
// 32×32 render blocks (+BS32 is always passed) with +SC<X0+1> +EC<X1>
// +SR<Y0+1> +ER<Y1> (1-based inclusive pixels; an end of exactly 1 would
// mean "the whole side", so it is widened to 2), writes a full-size image
// with only that part rendered, and Render crops it to the region.
// Widening to whole blocks matters: antialiasing method 1 decides whether
// to supersample a pixel by comparing it with its neighbours inside its
// block, and unaligned tiles differed from the full frame in a few pixels
// (7 of 11,700 with the clockd example's threshold 0.3); block-aligned
// tiles are exact with antialiasing off, with the scene's own adaptive
// settings and with Samples > 1 (tested), always single-threaded with
// jitter off.
//
// Output: OutputDir/frame.png, an 8-bit RGB (RGBA if the scene's .ini asks
// for alpha) PNG of exactly the region's size, renamed into place only on
// success. POV-Ray works in a scratch directory OutputDir/.povray-* (its
// HOME, the generated povray.conf and the full-size image), removed before
// Render returns; on failure or cancellation OutputDir holds nothing new.
//
// Progress comes from povray's "Rendered N of M pixels" lines (0.01 when
// parsing starts, 0.05..0.99 while rendering, 1 on success). Errors carry
// povray's error messages and its last line, rebuilt so that nothing of a
// file's content reaches the publisher (sanitize.go): the file (relative
// to the scene; "(a file outside the scene)" for any other), the line, the
// kind of message, and the message only where it is one of POV-Ray's
// known templates, with what it quotes of the input left out — a
// computed #include of a local file cannot send its first word back, nor
// #error, #warning or #debug text. Parse errors are
// render.ErrSceneInvalid, running out of memory or past the output limit
// render.ErrTaskInvalid.
//
// # Sandbox and limits
//
// On Linux, when bwrap (bubblewrap) really works here (checked once with
// render.ProbeSandbox: povray --version runs in the sandbox and a shell in
// it finds the boundaries hold; a failure is logged once), povray runs in
// render.Sandbox: only /usr (with the /bin, /lib... links of a
// merged-/usr system or the real directories of an older one), the
// loader's files, /etc/povray and Task.SceneDir visible, read-only; the
// scratch directory the only writable place (the sandbox's root, /tmp and
// /dev are read-only); the generated povray.conf bound over
// /etc/povray/3.7/povray.conf; --unshare-all (no network), --cap-drop ALL,
// --die-with-parent and --new-session. Home directories, /var and the
// node's keys are not there at all, so a scene cannot read them (and
// encode them into its pixels), and a path it computes at parse time
// cannot write anywhere but the scratch directory.
//
// The generated povray.conf sets POV-Ray's own I/O restrictions as strict
// as they go — [File I/O Security] restricted (read: the scene dir and
// POV-Ray's library; read+write: the scratch dir) and [Shellout Security]
// forbidden. Shell-outs (Pre_Scene_Command ...) are indeed refused, but
// POV-Ray 3.7.0.10's file I/O restrictions were measured to have no effect
// (#fopen wrote to /var/tmp and read /etc/hostname under a restricted
// conf, as root and as nobody). Without bwrap, therefore — the
// publisher's own scenes, or strangers' only where the node's user opted
// in (--allow-unsandboxed) — a scene can read any file the user can and,
// by a path it computes, write one unless the extra static check stops
// it: the scene must pass Inspect (no absolute, ".." or linked-out
// literal references) and no scene file may use the words "write" or
// "append" outside comments and strings (#fopen's modes;
// render.ErrUnsupported). A file included by a computed path is not
// scanned. Install bubblewrap.
//
// Limits: the context's deadline or cancellation kills povray's whole
// process group (SIGKILL; bwrap's --die-with-parent takes the sandboxed
// process with it) and Render returns ctx.Err() promptly. render.Start
// caps the address space (Task.MemoryLimit, default 4 GiB) and the size of
// any file written (the task's output limit) before povray runs, and
// render.WatchSize kills the render when the scratch directory's files
// together pass the output limit.
//
// # Determinism
//
// Single-threaded with jitter off, the same task gives the same pixels on
// every run and for every tile split (checked by the rendertest suite).
// Output may differ between POV-Ray versions and builds, hence the exact
// version from Probe. Radiosity and photons are deterministic
// single-threaded too, per DESIGN.md §5, but are not covered by the tests
// here.
package povray
