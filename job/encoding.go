package job

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

// MaxManifestSize caps the canonical bytes of a manifest. A valid manifest
// is well under 3 KiB; the cap bounds what a stranger can make us parse.
const MaxManifestSize = 16 << 10

// JSONCodec is the multicodec "json" (0x0200): job IDs name JSON bytes.
const JSONCodec = 0x0200

// Decoding errors. UnmarshalManifest and OpenManifest wrap exactly one of
// these (or ErrInvalidManifest) so callers can tell what was wrong.
var (
	ErrTooLarge           = errors.New("too large")
	ErrTruncated          = errors.New("truncated")
	ErrMalformed          = errors.New("malformed")
	ErrUnsupportedVersion = errors.New("unsupported format version")
	ErrNotCanonical       = errors.New("not in canonical form")
	ErrNotJobID           = errors.New("not a job ID (want CIDv1 with codec json 0x0200 and a sha2-256 multihash)")
)

// manifestWire is the canonical field order. Changing it, a JSON name or a
// type changes every job ID: that is a new FormatVersion.
type manifestWire struct {
	V         int64        `json:"v"`
	Publisher string       `json:"publisher"`
	Created   int64        `json:"created"`
	Title     string       `json:"title"`
	Renderer  rendererWire `json:"renderer"`
	Scene     sceneWire    `json:"scene"`
	Frames    string       `json:"frames"`
	First     string       `json:"first"`
	Tiles     int64        `json:"tiles"`
	Width     int64        `json:"width"`
	Height    int64        `json:"height"`
	Samples   int64        `json:"samples"`
	Seed      int64        `json:"seed"`
	Output    string       `json:"output"`
	Profile   string       `json:"profile"`
	Replicas  int64        `json:"replicas"`
	Limits    limitsWire   `json:"limits"`
	Deadline  int64        `json:"deadline"`
}

type rendererWire struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type sceneWire struct {
	Asset string `json:"asset"`
	Main  string `json:"main"`
}

type limitsWire struct {
	MaxSecondsPerFrame int64 `json:"max_seconds_per_frame"`
	MaxMemoryMiB       int64 `json:"max_memory_mib"`
}

// Marshal validates m and returns its canonical bytes.
func (m Manifest) Marshal() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	tiles := m.Tiles
	if tiles == 1 {
		tiles = 0
	}
	w := manifestWire{
		V:         int64(m.Version),
		Publisher: m.Publisher.String(),
		Created:   m.Created,
		Title:     m.Title,
		Renderer:  rendererWire{Name: m.Renderer.Name, Version: m.Renderer.Version},
		Scene:     sceneWire{Asset: m.Scene.Asset.String(), Main: m.Scene.Main},
		Frames:    m.Frames.String(),
		First:     m.First.String(),
		Tiles:     int64(tiles),
		Width:     int64(m.Width),
		Height:    int64(m.Height),
		Samples:   int64(m.Samples),
		Seed:      int64(m.Seed),
		Output:    m.Output,
		Profile:   m.Profile,
		Replicas:  int64(m.Replicas),
		Limits: limitsWire{
			MaxSecondsPerFrame: int64(m.Limits.MaxSecondsPerFrame),
			MaxMemoryMiB:       int64(m.Limits.MaxMemoryMiB),
		},
		Deadline: m.Deadline,
	}
	return encodeJSON(w)
}

// ID validates m and returns its job ID.
func (m Manifest) ID() (cid.Cid, error) {
	b, err := m.Marshal()
	if err != nil {
		return cid.Undef, err
	}
	return ManifestID(b), nil
}

// UnmarshalManifest decodes canonical manifest bytes, accepting nothing else:
// see the package documentation. The error wraps ErrTooLarge, ErrTruncated,
// ErrMalformed, ErrUnsupportedVersion, ErrInvalidManifest or ErrNotCanonical.
func UnmarshalManifest(b []byte) (Manifest, error) {
	if len(b) > MaxManifestSize {
		return Manifest{}, fmt.Errorf("manifest of %d bytes: %w (limit %d)", len(b), ErrTooLarge, MaxManifestSize)
	}
	var probe struct {
		V *int64 `json:"v"`
	}
	if err := decodeJSON(b, &probe, false); err != nil {
		return Manifest{}, fmt.Errorf("manifest: %w", err)
	}
	if probe.V == nil || *probe.V != FormatVersion {
		v := "missing"
		if probe.V != nil {
			v = fmt.Sprint(*probe.V)
		}
		return Manifest{}, fmt.Errorf("manifest: %w %s (this node reads %d)", ErrUnsupportedVersion, v, FormatVersion)
	}
	var w manifestWire
	if err := decodeJSON(b, &w, true); err != nil {
		return Manifest{}, fmt.Errorf("manifest: %w", err)
	}
	m, err := w.manifest()
	if err != nil {
		return Manifest{}, fmt.Errorf("%w: %v", ErrInvalidManifest, err)
	}
	back, err := m.Marshal()
	if err != nil {
		return Manifest{}, err
	}
	if !bytes.Equal(back, b) {
		return Manifest{}, fmt.Errorf("manifest: %w", ErrNotCanonical)
	}
	return m, nil
}

// manifest parses the text fields; Validate checks the rest.
func (w manifestWire) manifest() (Manifest, error) {
	pub, err := peer.Decode(w.Publisher)
	if err != nil {
		return Manifest{}, fmt.Errorf("publisher %q: %v", w.Publisher, err)
	}
	asset, err := cid.Decode(w.Scene.Asset)
	if err != nil {
		return Manifest{}, fmt.Errorf("scene asset %q: %v", w.Scene.Asset, err)
	}
	frames, err := ParseFrameSpec(w.Frames)
	if err != nil {
		return Manifest{}, err
	}
	var first FrameSpec
	if w.First != "" {
		if first, err = ParseFrameSpec(w.First); err != nil {
			return Manifest{}, fmt.Errorf("first: %v", err)
		}
	}
	return Manifest{
		Version:   small(w.V),
		Publisher: pub,
		Created:   w.Created,
		Title:     w.Title,
		Renderer:  Renderer{Name: w.Renderer.Name, Version: w.Renderer.Version},
		Scene:     Scene{Asset: asset, Main: w.Scene.Main},
		Frames:    frames,
		First:     first,
		Tiles:     small(w.Tiles),
		Width:     small(w.Width),
		Height:    small(w.Height),
		Samples:   small(w.Samples),
		Seed:      small(w.Seed),
		Output:    w.Output,
		Profile:   w.Profile,
		Replicas:  small(w.Replicas),
		Limits: Limits{
			MaxSecondsPerFrame: small(w.Limits.MaxSecondsPerFrame),
			MaxMemoryMiB:       small(w.Limits.MaxMemoryMiB),
		},
		Deadline: w.Deadline,
	}, nil
}

// small converts to int, mapping values outside int32 (which no bounded
// field allows) to -1 so that Validate rejects them on any platform.
func small(v int64) int {
	if v < math.MinInt32 || v > math.MaxInt32 {
		return -1
	}
	return int(v)
}

// MarshalJSON returns the canonical bytes, so a Manifest can sit inside
// other JSON (the GUI API) unchanged.
func (m Manifest) MarshalJSON() ([]byte, error) { return m.Marshal() }

// UnmarshalJSON decodes a manifest embedded in other JSON (the GUI API).
// Unlike UnmarshalManifest it accepts any JSON spelling of the fields
// (whitespace, escapes: an enclosing encoder may re-indent or HTML-escape
// them), but still only the known fields, FormatVersion and valid values.
// Trust never comes from here: signed manifests are read with OpenManifest.
func (m *Manifest) UnmarshalJSON(b []byte) error {
	if len(b) > 2*MaxManifestSize {
		return fmt.Errorf("manifest of %d bytes: %w", len(b), ErrTooLarge)
	}
	var w manifestWire
	if err := decodeJSON(b, &w, true); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if w.V != FormatVersion {
		return fmt.Errorf("manifest: %w %d (this node reads %d)", ErrUnsupportedVersion, w.V, FormatVersion)
	}
	d, err := w.manifest()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidManifest, err)
	}
	if err := d.Validate(); err != nil {
		return err
	}
	*m = d
	return nil
}

// ManifestID returns the job ID of canonical manifest bytes: CIDv1 with the
// json codec and a sha2-256 multihash. It does not check the bytes.
func ManifestID(canonical []byte) cid.Cid {
	sum := sha256.Sum256(canonical)
	m, err := mh.Encode(sum[:], mh.SHA2_256)
	if err != nil {
		// Encode fails only for unknown codes or a length mismatch.
		panic(err)
	}
	return cid.NewCidV1(JSONCodec, m)
}

// CheckID returns ErrNotJobID unless c has the form of a job ID.
func CheckID(c cid.Cid) error {
	if !c.Defined() || c.Version() != 1 || c.Type() != JSONCodec {
		return ErrNotJobID
	}
	dm, err := mh.Decode(c.Hash())
	if err != nil || dm.Code != mh.SHA2_256 || len(dm.Digest) != sha256.Size {
		return ErrNotJobID
	}
	return nil
}

// ParseID parses the text form of a job ID, as users paste it.
func ParseID(s string) (cid.Cid, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("invalid job ID %q: %w", s, err)
	}
	if err := CheckID(c); err != nil {
		return cid.Undef, fmt.Errorf("job ID %s: %w", s, err)
	}
	return c, nil
}

// encodeJSON writes compact JSON exactly as json.Marshal does, HTML-safe
// escaping included, so the bytes survive unchanged when another json.Marshal
// embeds them as a json.RawMessage.
func encodeJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding JSON: %w", err)
	}
	return b, nil
}

// DecodeStrict decodes one JSON value with no unknown fields and classifies
// failures as ErrTruncated or ErrMalformed. It is the first step of every
// canonical decoder (manifests here, receipts in credits): anything else
// non-canonical (duplicate keys, other spellings, trailing bytes) is caught
// by re-encoding and comparing.
func DecodeStrict(b []byte, v any) error { return decodeJSON(b, v, true) }

// decodeJSON decodes one JSON value and classifies failures as ErrTruncated
// or ErrMalformed. Trailing bytes are left to the canonical comparison.
func decodeJSON(b []byte, v any, strict bool) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if strict {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(v)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return ErrTruncated
	default:
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
}
