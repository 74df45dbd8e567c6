// Package render defines the one small interface every renderer backend
// implements (builtin, blender, povray) and the vocabulary around it: what a
// backend can do (Info), what a scene needs (SceneInfo), what to render (Task),
// how far it got (Progress) and what it produced (Result).
//
// A backend is stateless between calls and safe for concurrent use. Render
// reads the scene directory, writes only inside Task.OutputDir, reports
// progress through a callback and stops promptly, returning ctx.Err(), when
// its context is cancelled. Callers decide with errors.Is on the sentinels
// below: ErrSceneInvalid (the scene is the problem: missing, malformed, a
// dependency absent — retrying will not help), ErrTaskInvalid (the task's
// settings are out of range), ErrUnsupported (the backend cannot do what the
// task asks, e.g. a border region) and ErrUnavailable (the backend's program
// is not installed or not runnable here).
//
// Coordinates: a border region is a pixel rectangle with its origin at the
// top-left corner of the full frame, x growing right and y growing down (the
// PNG row order), half-open: [X0, X1) × [Y0, Y1). A border render writes a PNG
// of exactly the region's size holding the region's pixels, so tiles stitch
// into the full frame by placing each at (X0, Y0). Backends whose program
// counts from the bottom-left (Blender) convert.
//
// Every render runs under limits (limits.go): Task.MemoryLimit caps the
// address space of every process it starts (default 4 GiB), and its
// output limit what it may write; backends that run a program start it
// with Start, which sets the limits before the program runs, and watch
// their scratch space with WatchSize. Such a backend runs its program in
// a bubblewrap Sandbox where ProbeSandbox finds one really working, and
// says so through Sandboxer; the node offers it to strangers only then
// (or when its user opted in). CheckInside is the one test of "inside the
// scene folder, symlinks resolved" that every Inspect and the packer use.
//
// The conformance suite in render/rendertest checks these promises for every
// backend. The explicit registry of backends lives in package node.
//
// This package imports only the standard library and job (TaskFor reads a
// manifest); backends import it, never the other way round.
package render
