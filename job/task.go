package job

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/ipfs/go-cid"
)

// ErrBadTask is wrapped by ParseTask's errors.
var ErrBadTask = errors.New("bad task")

// Task is one unit of work of a job: one tile of one frame. Tile is 0 when
// frames are not split. A result for a task is named by the asset CID of the
// torrent holding the rendered image (its result ID).
type Task struct {
	Job   cid.Cid // job ID
	Frame int
	Tile  int // 0..Manifest.TileCount()-1
}

// String returns "<job ID>/<frame>/<tile>", the task's text form.
func (t Task) String() string {
	return t.Job.String() + "/" + strconv.Itoa(t.Frame) + "/" + strconv.Itoa(t.Tile)
}

// ParseTask parses the text form of a task. It accepts only what String
// writes: a job ID in base32 and numbers without signs or leading zeros.
func ParseTask(s string) (Task, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return Task{}, fmt.Errorf("%w %q: want <job ID>/<frame>/<tile>", ErrBadTask, s)
	}
	c, err := ParseID(parts[0])
	if err != nil {
		return Task{}, fmt.Errorf("%w %q: %v", ErrBadTask, s, err)
	}
	frame, err1 := parseCanonicalInt(parts[1], MaxFrameNumber)
	tile, err2 := parseCanonicalInt(parts[2], MaxTiles-1)
	if err1 != nil || err2 != nil {
		return Task{}, fmt.Errorf("%w %q: frame must be 0..%d and tile 0..%d, in plain digits", ErrBadTask, s, MaxFrameNumber, MaxTiles-1)
	}
	t := Task{Job: c, Frame: frame, Tile: tile}
	if t.String() != s {
		return Task{}, fmt.Errorf("%w %q: not in canonical form (want %s)", ErrBadTask, s, t)
	}
	return t, nil
}

func parseCanonicalInt(s string, maxVal int) (int, error) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, strconv.ErrSyntax
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > maxVal {
		return 0, strconv.ErrRange
	}
	return n, nil
}

// MarshalText returns String, so a Task sits in JSON as a string.
func (t Task) MarshalText() ([]byte, error) {
	if err := CheckID(t.Job); err != nil {
		return nil, fmt.Errorf("task: %w", err)
	}
	return []byte(t.String()), nil
}

// UnmarshalText parses text with ParseTask.
func (t *Task) UnmarshalText(text []byte) error {
	p, err := ParseTask(string(text))
	if err != nil {
		return err
	}
	*t = p
	return nil
}

// Tasks lists the job's tasks, frame by frame in ascending order and tile by
// tile within a frame. job must be m's ID (see Manifest.ID).
func (m Manifest) Tasks(job cid.Cid) []Task {
	tasks := make([]Task, 0, m.TaskCount())
	for _, f := range m.Frames.frames {
		for tile := range m.TileCount() {
			tasks = append(tasks, Task{Job: job, Frame: f, Tile: tile})
		}
	}
	return tasks
}

// HasTask reports whether t belongs to the job m with ID job.
func (m Manifest) HasTask(job cid.Cid, t Task) bool {
	return t.Job.Equals(job) && m.Frames.Contains(t.Frame) && t.Tile >= 0 && t.Tile < m.TileCount()
}

// TileRect returns the pixels of tile i of a frame, in image coordinates
// (origin top left, y down): tiles are full-width horizontal bands, tile 0 at
// the top, band i covering rows [i·H/n, (i+1)·H/n) with n = TileCount. With
// whole frames, tile 0 is the full image. Outside 0..n-1 it is empty.
// The result of a tile task is an image of exactly TileRect(i).Size() pixels
// holding those rows. Backends whose border coordinates start at the bottom
// (Blender) flip y.
func (m Manifest) TileRect(i int) image.Rectangle {
	n := m.TileCount()
	if i < 0 || i >= n {
		return image.Rectangle{}
	}
	return image.Rect(0, i*m.Height/n, m.Width, (i+1)*m.Height/n)
}

// PixelDigest is the SHA-256 digest of a decoded image's pixels; credits
// defines exactly what is hashed.
type PixelDigest [sha256.Size]byte

// Salt is a replica's random salt for its commitment.
type Salt [32]byte

// Commitment is sha256(salt ‖ pixel digest): it binds a volunteer to a result
// before the result is revealed.
type Commitment [sha256.Size]byte

// NewSalt reads a fresh salt from r, or from crypto/rand when r is nil.
func NewSalt(r io.Reader) (Salt, error) {
	var s Salt
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, s[:]); err != nil {
		return Salt{}, fmt.Errorf("reading salt: %w", err)
	}
	return s, nil
}

// Commit returns the commitment to digest d under salt.
func Commit(salt Salt, d PixelDigest) Commitment {
	h := sha256.New()
	h.Write(salt[:])
	h.Write(d[:])
	var c Commitment
	h.Sum(c[:0])
	return c
}

// ResultDigest binds the extra files of a result (Manifest.Extras: name
// -> content) to its pixel digest, so one commitment covers them all:
// without extras it is d itself (the commitments of PNG-only results are
// unchanged); with extras it is sha256("renderswarm result 1" ‖ d ‖, for
// each name in sorted order, len(name) as one byte ‖ name ‖
// sha256(content)). A result whose extra file changed after the commitment
// no longer opens it.
func ResultDigest(d PixelDigest, extras map[string][]byte) PixelDigest {
	if len(extras) == 0 {
		return d
	}
	names := make([]string, 0, len(extras))
	for n := range extras {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	h.Write([]byte("renderswarm result 1"))
	h.Write(d[:])
	for _, n := range names {
		sum := sha256.Sum256(extras[n])
		h.Write([]byte{byte(len(n))})
		h.Write([]byte(n))
		h.Write(sum[:])
	}
	var out PixelDigest
	h.Sum(out[:0])
	return out
}

// Opens reports whether c commits to digest d under salt, in constant time.
func (c Commitment) Opens(salt Salt, d PixelDigest) bool {
	want := Commit(salt, d)
	return subtle.ConstantTimeCompare(c[:], want[:]) == 1
}

func (d PixelDigest) String() string { return hex.EncodeToString(d[:]) }
func (s Salt) String() string        { return hex.EncodeToString(s[:]) }
func (c Commitment) String() string  { return hex.EncodeToString(c[:]) }

// MarshalText writes lower-case hex.
func (d PixelDigest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// MarshalText writes lower-case hex.
func (s Salt) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalText writes lower-case hex.
func (c Commitment) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText reads exactly 64 lower-case hex digits.
func (d *PixelDigest) UnmarshalText(b []byte) error {
	return unhex32("pixel digest", (*[32]byte)(d), b)
}

// UnmarshalText reads exactly 64 lower-case hex digits.
func (s *Salt) UnmarshalText(b []byte) error { return unhex32("salt", (*[32]byte)(s), b) }

// UnmarshalText reads exactly 64 lower-case hex digits.
func (c *Commitment) UnmarshalText(b []byte) error { return unhex32("commitment", (*[32]byte)(c), b) }

func unhex32(what string, dst *[32]byte, b []byte) error {
	var v [32]byte
	if len(b) != 64 {
		return fmt.Errorf("%s: want 64 hex digits, got %d characters", what, len(b))
	}
	if _, err := hex.Decode(v[:], b); err != nil || hex.EncodeToString(v[:]) != string(b) {
		return fmt.Errorf("%s: want 64 lower-case hex digits", what)
	}
	*dst = v
	return nil
}
