package job

import (
	"errors"
	"fmt"
	"math"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// FormatVersion is the manifest format this package reads and writes.
const FormatVersion = 1

// Bounds on manifest fields; Validate enforces them.
const (
	MaxSide         = 16384     // pixels on either side of the image
	MaxSamples      = 1_000_000 // samples per pixel
	MaxSeed         = math.MaxInt32
	MaxReplicas     = 5
	MaxTiles        = 64               // tiles per frame; also at most Height
	MaxFrameSeconds = 7 * 24 * 60 * 60 // Limits.MaxSecondsPerFrame
	MinMemoryMiB    = 64               // Limits.MaxMemoryMiB
	MaxMemoryMiB    = 1 << 20          // 1 TiB
	MaxTitleLen     = 200              // bytes
	MaxPathLen      = 1024             // bytes of Scene.Main
	MaxNameLen      = 32               // bytes of Renderer.Name
	MaxVersionLen   = 64               // bytes of Renderer.Version
	MaxTime         = 1<<53 - 1        // Created, Deadline: exact in JavaScript too
	OutputPNG       = "png"            // the verified 8-bit RGBA PNG alone
	OutputPNGEXR    = "png+exr"        // the verified PNG, and an OpenEXR of the same frame riding along
	BuiltinRenderer = "builtin"        // the deterministic embedded renderer
)

// Verification profiles name the rule credits uses to decide whether two
// honest renders of a task agree (DESIGN.md §5). The publisher pins one in the
// manifest so every party applies the same rule.
const (
	ProfileExact       = "exact"      // pixel digests must be equal
	ProfileCyclesCPU   = "cycles-cpu" // Blender Cycles on CPU
	ProfilePOVRay      = "povray-st"  // POV-Ray single-threaded
	ProfilePOVRayNoisy = "povray-mt"  // POV-Ray multi-threaded with jitter/radiosity
)

// ErrInvalidManifest is wrapped by every error Validate returns.
var ErrInvalidManifest = errors.New("invalid manifest")

// Manifest describes one render job. It is data only: every field is checked
// by Validate and nothing in it is ever executed. Its canonical encoding is
// described in the package documentation.
type Manifest struct {
	Version   int     // FormatVersion
	Publisher peer.ID // the node that publishes, coordinates and signs the job
	Created   int64   // Unix seconds on the publisher's clock, > 0
	Title     string  // optional display name: printable UTF-8, ≤ MaxTitleLen bytes

	Renderer Renderer
	Scene    Scene
	Frames   FrameSpec
	// First names frames that must be verified before any other frame is
	// leased: a test frame checked before the farm commits, or a frame
	// that warms caches the others read. Empty means no dependencies; it
	// must be a part of Frames, and not all of it.
	First FrameSpec
	// Tiles splits every frame into that many horizontal bands (see
	// TileRect), so a still can be rendered by several volunteers. 0 and 1
	// both mean whole frames; 1 is encoded as 0.
	Tiles   int
	Width   int // pixels, 1..MaxSide
	Height  int // pixels, 1..MaxSide
	Samples int // samples per pixel, 1..MaxSamples; 0: the scene's own setting (its file, in the asset, pins it)
	Seed    int // renderer seed, 0..MaxSeed
	Output  string

	Profile string // verification profile, one of the Profile constants
	// Replicas is the replication policy: the minimum number of agreeing
	// results from distinct volunteers before a task is accepted. With 1 the
	// coordinator replicates adaptively (every task of a new volunteer, then
	// a shrinking share, DESIGN.md §5); 2..MaxReplicas replicate every task.
	Replicas int
	Limits   Limits
	Deadline int64 // Unix seconds after which the publisher stops caring; 0 = none
}

// Renderer names the backend and its exact version; a volunteer renders only
// with exactly this version, so honest results agree.
type Renderer struct {
	Name    string // [a-z0-9-]+, ≤ MaxNameLen bytes, e.g. "blender"
	Version string // [A-Za-z0-9._+-]+, ≤ MaxVersionLen bytes, e.g. "4.2.1"
}

// Scene names the scene asset and the file in it the renderer opens.
type Scene struct {
	Asset cid.Cid // an asset CID (see AssetCID)
	Main  string  // clean relative slash path inside the asset, e.g. "shot.blend"
}

// Limits bound what rendering one task may cost a volunteer.
type Limits struct {
	MaxSecondsPerFrame int // wall seconds per task, 1..MaxFrameSeconds
	MaxMemoryMiB       int // MinMemoryMiB..MaxMemoryMiB
}

// DefaultProfile returns the verification profile that suits a renderer:
// exact for builtin and for unknown renderers, Cycles CPU for blender and
// single-threaded POV-Ray for povray.
func DefaultProfile(renderer string) string {
	switch renderer {
	case "blender":
		return ProfileCyclesCPU
	case "povray":
		return ProfilePOVRay
	default:
		return ProfileExact
	}
}

// TileCount returns the number of tasks per frame: Tiles, or 1 when Tiles is 0.
func (m Manifest) TileCount() int { return max(m.Tiles, 1) }

// TaskCount returns the number of tasks of the job.
func (m Manifest) TaskCount() int { return m.Frames.Len() * m.TileCount() }

// Validate checks every field against its documented bounds and returns the
// first problem, wrapping ErrInvalidManifest.
func (m Manifest) Validate() error {
	if err := m.validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidManifest, err)
	}
	return nil
}

func (m Manifest) validate() error {
	if m.Version != FormatVersion {
		return fmt.Errorf("format version %d, want %d", m.Version, FormatVersion)
	}
	if err := m.Publisher.Validate(); err != nil {
		return fmt.Errorf("publisher: %v", err)
	}
	if _, err := publicKey(m.Publisher); err != nil {
		return fmt.Errorf("publisher %s: %v", m.Publisher, err)
	}
	if m.Created <= 0 || m.Created > MaxTime {
		return fmt.Errorf("created %d is not a Unix time in 1..%d", m.Created, int64(MaxTime))
	}
	if err := checkTitle(m.Title); err != nil {
		return err
	}
	if err := m.Renderer.validate(); err != nil {
		return err
	}
	if err := m.Scene.validate(); err != nil {
		return err
	}
	if m.Frames.Len() == 0 {
		return errors.New("no frames")
	}
	for _, f := range m.First.Frames() {
		if !m.Frames.Contains(f) {
			return fmt.Errorf("first frame %d is not one of the job's frames", f)
		}
	}
	if m.First.Len() > 0 && m.First.Len() == m.Frames.Len() {
		return errors.New("every frame is a first frame: leave first empty")
	}
	if err := m.validateImage(); err != nil {
		return err
	}
	if err := m.validatePolicy(); err != nil {
		return err
	}
	return nil
}

func (m Manifest) validateImage() error {
	if m.Width < 1 || m.Width > MaxSide || m.Height < 1 || m.Height > MaxSide {
		return fmt.Errorf("resolution %dx%d outside 1..%d on a side", m.Width, m.Height, MaxSide)
	}
	if m.Tiles < 0 || m.Tiles > MaxTiles || m.Tiles > m.Height {
		return fmt.Errorf("tiles %d outside 0..%d (and at most the height)", m.Tiles, MaxTiles)
	}
	if n := m.TaskCount(); n > MaxFrames {
		return fmt.Errorf("%d frames x %d tiles is more than %d tasks", m.Frames.Len(), m.TileCount(), MaxFrames)
	}
	if m.Samples < 0 || m.Samples > MaxSamples {
		return fmt.Errorf("samples %d outside 0..%d", m.Samples, MaxSamples)
	}
	if m.Seed < 0 || m.Seed > MaxSeed {
		return fmt.Errorf("seed %d outside 0..%d", m.Seed, MaxSeed)
	}
	switch m.Output {
	case OutputPNG:
	case OutputPNGEXR:
		if m.TileCount() > 1 {
			return fmt.Errorf("output %q needs whole frames, not %d tiles", m.Output, m.Tiles)
		}
	default:
		return fmt.Errorf("output format %q, want %q or %q", m.Output, OutputPNG, OutputPNGEXR)
	}
	return nil
}

// Extras lists the files a task delivers besides the verified PNG, by
// extension ("exr"), sorted: they travel in the same delivery, are bound
// to the PNG by the result's commitment (ResultDigest), and are not
// compared between replicas.
func (m Manifest) Extras() []string {
	if m.Output == OutputPNGEXR {
		return []string{"exr"}
	}
	return nil
}

func (m Manifest) validatePolicy() error {
	switch m.Profile {
	case ProfileExact, ProfileCyclesCPU, ProfilePOVRay, ProfilePOVRayNoisy:
	default:
		return fmt.Errorf("unknown verification profile %q", m.Profile)
	}
	if m.Renderer.Name == BuiltinRenderer && m.Profile != ProfileExact {
		return fmt.Errorf("renderer builtin is deterministic: profile must be %q, not %q", ProfileExact, m.Profile)
	}
	if m.Replicas < 1 || m.Replicas > MaxReplicas {
		return fmt.Errorf("replicas %d outside 1..%d", m.Replicas, MaxReplicas)
	}
	if s := m.Limits.MaxSecondsPerFrame; s < 1 || s > MaxFrameSeconds {
		return fmt.Errorf("max seconds per frame %d outside 1..%d", s, MaxFrameSeconds)
	}
	if mib := m.Limits.MaxMemoryMiB; mib < MinMemoryMiB || mib > MaxMemoryMiB {
		return fmt.Errorf("max memory %d MiB outside %d..%d", mib, MinMemoryMiB, MaxMemoryMiB)
	}
	if m.Deadline != 0 && (m.Deadline <= m.Created || m.Deadline > MaxTime) {
		return fmt.Errorf("deadline %d is not after created %d", m.Deadline, m.Created)
	}
	return nil
}

func (r Renderer) validate() error {
	if !isToken(r.Name, MaxNameLen, func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	}) {
		return fmt.Errorf("renderer name %q: want 1..%d of a-z 0-9 -", r.Name, MaxNameLen)
	}
	if !isToken(r.Version, MaxVersionLen, func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._+-", c) >= 0
	}) {
		return fmt.Errorf("renderer version %q: want 1..%d of %s", r.Version, MaxVersionLen, "A-Za-z0-9 . _ + -")
	}
	return nil
}

func (s Scene) validate() error {
	if _, err := InfoHash(s.Asset); err != nil {
		return fmt.Errorf("scene asset: %v", err)
	}
	return checkRelPath(s.Main)
}

// checkRelPath accepts a clean relative slash path that stays inside its
// root on every OS: no "..", no leading "/", no "\" or ":", no control
// characters, valid UTF-8.
func checkRelPath(p string) error {
	bad := func(why string) error { return fmt.Errorf("scene main file %q: %s", p, why) }
	switch {
	case p == "" || p == ".":
		return bad("empty")
	case len(p) > MaxPathLen:
		return bad(fmt.Sprintf("longer than %d bytes", MaxPathLen))
	case !utf8.ValidString(p):
		return bad("not UTF-8")
	case strings.HasPrefix(p, "/"):
		return bad("absolute")
	case strings.ContainsAny(p, `\:`):
		return bad(`contains \ or :`)
	case strings.IndexFunc(p, unicode.IsControl) >= 0:
		return bad("contains control characters")
	case path.Clean(p) != p:
		return bad("not a clean path")
	}
	for part := range strings.SplitSeq(p, "/") {
		if part == ".." {
			return bad("leaves the scene directory")
		}
	}
	return nil
}

func checkTitle(s string) error {
	switch {
	case len(s) > MaxTitleLen:
		return fmt.Errorf("title longer than %d bytes", MaxTitleLen)
	case !utf8.ValidString(s):
		return errors.New("title is not UTF-8")
	case strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return fmt.Errorf("title %q has unprintable characters", s)
	}
	return nil
}

func isToken(s string, maxLen int, ok func(byte) bool) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for i := range len(s) {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}
