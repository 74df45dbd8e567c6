package job

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multibase"
)

// testKey derives an Ed25519 identity deterministically from one byte.
func testKey(t testing.TB, b byte) (crypto.PrivKey, peer.ID) {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{b}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return priv, id
}

// testManifest is a fixed, valid manifest published by testKey(t, 1).
func testManifest(t testing.TB) Manifest {
	t.Helper()
	_, pub := testKey(t, 1)
	var ih [20]byte
	hex.Decode(ih[:], []byte("d2474e86c95b19b8bcfdb92bc12c9d44667cfa36"))
	frames, err := ParseFrameSpec("1-250x5")
	if err != nil {
		t.Fatal(err)
	}
	first, err := ParseFrameSpec("1,6")
	if err != nil {
		t.Fatal(err)
	}
	return Manifest{
		Version:   FormatVersion,
		Publisher: pub,
		Created:   1795000000,
		Title:     "shot <010> & \"final\" — é",
		Renderer:  Renderer{Name: "blender", Version: "4.2.1"},
		Scene:     Scene{Asset: AssetCID(ih), Main: "shots/shot.blend"},
		Frames:    frames,
		First:     first,
		Width:     1920,
		Height:    1080,
		Samples:   128,
		Seed:      42,
		Output:    OutputPNG,
		Profile:   ProfileCyclesCPU,
		Replicas:  2,
		Limits:    Limits{MaxSecondsPerFrame: 3600, MaxMemoryMiB: 8192},
		Deadline:  1795086400,
	}
}

// The canonical bytes and the job ID are a wire contract: every node must
// compute the same ID for the same job. If this test fails, you changed the
// format: bump FormatVersion instead.
func TestManifestGolden(t *testing.T) {
	m := testManifest(t)
	const wantBytes = `{"v":1,"publisher":"12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5","created":1795000000,` +
		`"title":"shot \u003c010\u003e \u0026 \"final\" — é","renderer":{"name":"blender","version":"4.2.1"},` +
		`"scene":{"asset":"baf5rcfgsi5hinsk3dg4lz7nzfpaszhkemz6punq","main":"shots/shot.blend"},` +
		`"frames":"1-246x5","first":"1,6","tiles":0,"width":1920,"height":1080,"samples":128,"seed":42,"output":"png",` +
		`"profile":"cycles-cpu","replicas":2,"limits":{"max_seconds_per_frame":3600,"max_memory_mib":8192},` +
		`"deadline":1795086400}`
	const wantID = "bagaaieraxmir7qabwrio3hr6fjtxyvvvnupqvvdmk4rcydk35cdvbhipsl3a"
	const wantSig = "02e362da031f4e0e2be95e841da658937e55d9e675962b4044027abe63f88ced" +
		"ee0b964be88ae67066e5ebe8b602adf9f74411243f775e7cf50cc8ba390cd007"
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != wantBytes {
		t.Errorf("canonical bytes:\n got %s\nwant %s", b, wantBytes)
	}
	id, err := m.ID()
	if err != nil || id.String() != wantID {
		t.Errorf("job ID = %s, %v; want %s", id, err, wantID)
	}
	priv, _ := testKey(t, 1)
	s, err := m.Sign(priv)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(s.Signature); got != wantSig {
		t.Errorf("signature = %s, want %s", got, wantSig)
	}
	if !s.ID().Equals(id) {
		t.Errorf("SignedManifest.ID = %s, want %s", s.ID(), id)
	}
}

func TestManifestRoundTrip(t *testing.T) {
	m := testManifest(t)
	m.Tiles = 1 // encoded as 0
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Tiles != 0 || !back.Frames.Equal(m.Frames) || back.Publisher != m.Publisher ||
		!back.Scene.Asset.Equals(m.Scene.Asset) || back.Title != m.Title || back.Limits != m.Limits {
		t.Fatalf("round trip changed the manifest: %+v", back)
	}
	again, _ := back.Marshal()
	if !bytes.Equal(again, b) {
		t.Fatalf("re-encoding differs:\n%s\n%s", again, b)
	}

	// Inside other JSON, even re-indented, a Manifest survives.
	type envelope struct {
		Job Manifest `json:"job"`
	}
	out, err := json.MarshalIndent(envelope{Job: m}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var e envelope
	if err := json.Unmarshal(out, &e); err != nil {
		t.Fatalf("decoding indented manifest: %v", err)
	}
	if id1, _ := e.Job.ID(); !id1.Equals(ManifestID(b)) {
		t.Fatalf("ID after JSON embedding = %s, want %s", id1, ManifestID(b))
	}
}

func TestUnmarshalManifestRejects(t *testing.T) {
	good, err := testManifest(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	for _, tc := range []struct {
		name string
		in   string
		want error
	}{
		{"oversized", s[:len(s)-1] + `,"x":"` + strings.Repeat("a", MaxManifestSize) + `"}`, ErrTooLarge},
		{"truncated", s[:len(s)/2], ErrTruncated},
		{"empty", "", ErrTruncated},
		{"not json", "hello", ErrMalformed},
		{"array", "[1,2]", ErrMalformed},
		{"version 2", strings.Replace(s, `"v":1`, `"v":2`, 1), ErrUnsupportedVersion},
		{"version missing", strings.Replace(s, `"v":1,`, ``, 1), ErrUnsupportedVersion},
		{"unknown field", strings.Replace(s, `"v":1,`, `"v":1,"script":"rm -rf /",`, 1), ErrMalformed},
		{"float", strings.Replace(s, `"samples":128`, `"samples":128.0`, 1), ErrMalformed},
		{"string number", strings.Replace(s, `"samples":128`, `"samples":"128"`, 1), ErrMalformed},
		{"whitespace", strings.Replace(s, `"v":1,`, `"v": 1,`, 1), ErrNotCanonical},
		{"trailing newline", s + "\n", ErrNotCanonical},
		{"trailing value", s + "{}", ErrNotCanonical},
		{"reordered", reorder(s), ErrNotCanonical},
		{"duplicate key", strings.Replace(s, `"seed":42`, `"seed":7,"seed":42`, 1), ErrNotCanonical},
		{"key case", strings.Replace(s, `"seed":42`, `"Seed":42`, 1), ErrNotCanonical},
		{"missing field", strings.Replace(s, `"seed":42,`, ``, 1), ErrNotCanonical},
		{"null field", strings.Replace(s, `"seed":42`, `"seed":null`, 1), ErrNotCanonical},
		{"unescaped html", strings.Replace(s, `\u003c010\u003e`, `<010>`, 1), ErrNotCanonical},
		{"escaped letter", strings.Replace(s, `"png"`, `"\u0070ng"`, 1), ErrNotCanonical},
		{"frames not normalized", strings.Replace(s, `"1-246x5"`, `"1-250x5"`, 1), ErrNotCanonical},
		{"base58 cid", strings.Replace(s, "baf5rcfgsi5hinsk3dg4lz7nzfpaszhkemz6punq", base58Asset(t), 1), ErrNotCanonical},
		{"leading zero", strings.Replace(s, `"seed":42`, `"seed":042`, 1), ErrMalformed},
		{"bad frames", strings.Replace(s, `"1-246x5"`, `"5-1"`, 1), ErrInvalidManifest},
		{"bad publisher", strings.Replace(s, "12D3KooW", "12D3KooX", 1), ErrInvalidManifest},
		{"negative samples", strings.Replace(s, `"samples":128`, `"samples":-1`, 1), ErrInvalidManifest},
		{"huge width", strings.Replace(s, `"width":1920`, `"width":99999999999`, 1), ErrInvalidManifest},
		{"path traversal", strings.Replace(s, `shots/shot.blend`, `../shot.blend`, 1), ErrInvalidManifest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := UnmarshalManifest([]byte(tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

// base58Asset is testManifest's scene asset CID in base58btc.
func base58Asset(t *testing.T) string {
	s, err := testManifest(t).Scene.Asset.StringOfBase(multibase.Base58BTC)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// reorder moves the "v" field to the end: same content, other field order.
func reorder(s string) string {
	rest := strings.TrimPrefix(s, `{"v":1,`)
	return "{" + strings.TrimSuffix(rest, "}") + `,"v":1}`
}

func FuzzUnmarshalManifest(f *testing.F) {
	good, err := testManifest(f).Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(strings.Replace(string(good), `"tiles":0`, `"tiles":4`, 1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := UnmarshalManifest(b)
		if err != nil {
			return
		}
		again, err := m.Marshal()
		if err != nil {
			t.Fatalf("decoded manifest does not re-encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%q\n%q", again, b)
		}
		if id, _ := m.ID(); !id.Equals(ManifestID(b)) {
			t.Fatalf("ID %s != ManifestID %s", id, ManifestID(b))
		}
	})
}
