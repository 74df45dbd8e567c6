package job

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func signedTestManifest(t testing.TB) (Manifest, []byte) {
	t.Helper()
	m := testManifest(t)
	priv, _ := testKey(t, 1)
	s, err := m.Sign(priv)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return m, b
}

func TestOpenManifest(t *testing.T) {
	m, b := signedTestManifest(t)
	if !bytes.HasPrefix(b, []byte(`{"manifest":{"v":1,`)) || !bytes.Contains(b, []byte(`"signer":"`+m.Publisher.String()+`","sig":"`)) {
		t.Fatalf("unexpected wire form %s", b)
	}
	got, s, err := OpenManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Publisher != m.Publisher || got.Samples != m.Samples || s.Signer != m.Publisher {
		t.Fatalf("OpenManifest = %+v", got)
	}
	id, _ := m.ID()
	if !s.ID().Equals(id) {
		t.Fatalf("ID = %s, want %s", s.ID(), id)
	}
}

// Regression: peers embed the wire form as a json.RawMessage in their own
// messages and encode those with json.Marshal, which HTML-escapes raw
// messages. The canonical bytes must come through unchanged.
func TestOpenManifestEmbeddedByJSONMarshal(t *testing.T) {
	_, b := signedTestManifest(t)
	outer, err := json.Marshal(struct {
		Manifest json.RawMessage `json:"manifest"`
	}{b})
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Manifest json.RawMessage `json:"manifest"`
	}
	if err := json.Unmarshal(outer, &back); err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenManifest(back.Manifest); err != nil {
		t.Fatalf("after json.Marshal embedding: %v", err)
	}
}

func TestSignRejects(t *testing.T) {
	m := testManifest(t)
	other, _ := testKey(t, 2)
	if _, err := m.Sign(other); !errors.Is(err, ErrPublisherMismatch) {
		t.Errorf("signing with another key: err = %v, want ErrPublisherMismatch", err)
	}
	secp, _, err := crypto.GenerateKeyPairWithReader(crypto.Secp256k1, 0, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Sign(secp); !errors.Is(err, ErrUnsupportedKey) {
		t.Errorf("signing with secp256k1: err = %v, want ErrUnsupportedKey", err)
	}
	priv, _ := testKey(t, 1)
	m.Samples = -1
	if _, err := m.Sign(priv); !errors.Is(err, ErrInvalidManifest) {
		t.Errorf("signing an invalid manifest: err = %v, want ErrInvalidManifest", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	m := testManifest(t)
	priv1, id1 := testKey(t, 1)
	priv2, id2 := testKey(t, 2)
	good, err := m.Sign(priv1)
	if err != nil {
		t.Fatal(err)
	}

	// A manifest naming publisher 1, honestly signed by key 2.
	b := good.Manifest
	sig2, _ := priv2.Sign(signedBytes(b))
	// The same manifest naming publisher 2 but signed by key 1.
	m2 := m
	m2.Publisher = id2
	b2, _ := m2.Marshal()
	sig1for2, _ := priv1.Sign(signedBytes(b2))
	// A valid manifest with one field changed after signing.
	tampered := bytes.Replace(b, []byte(`"samples":128`), []byte(`"samples":129`), 1)
	// A signature without the domain prefix.
	bare, _ := priv1.Sign(b)

	for _, tc := range []struct {
		name string
		s    SignedManifest
		want error
	}{
		{"forged signature", SignedManifest{b, id1, bytes.Repeat([]byte{7}, 64)}, ErrBadSignature},
		{"short signature", SignedManifest{b, id1, good.Signature[:10]}, ErrBadSignature},
		{"no signature", SignedManifest{b, id1, nil}, ErrBadSignature},
		{"tampered byte", SignedManifest{tampered, id1, good.Signature}, ErrBadSignature},
		{"no domain prefix", SignedManifest{b, id1, bare}, ErrBadSignature},
		{"claims other signer", SignedManifest{b, id2, good.Signature}, ErrBadSignature},
		{"signed by someone else", SignedManifest{b, id2, sig2}, ErrPublisherMismatch},
		{"publisher swapped", SignedManifest{b2, id1, sig1for2}, ErrPublisherMismatch},
		{"signer without key", SignedManifest{b, peer.ID("x"), good.Signature}, ErrUnsupportedKey},
		{"truncated manifest", SignedManifest{b[:len(b)-3], id1, good.Signature}, ErrTruncated},
		{"oversized manifest", SignedManifest{append(bytes.Repeat([]byte{' '}, MaxManifestSize), b...), id1, good.Signature}, ErrTooLarge},
		{"wrong version", SignedManifest{bytes.Replace(b, []byte(`"v":1`), []byte(`"v":2`), 1), id1, good.Signature}, ErrUnsupportedVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.s.Verify()
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestOpenManifestRejects(t *testing.T) {
	_, b := signedTestManifest(t)
	s := string(b)
	i := strings.Index(s, `"sig":"`) + len(`"sig":"`)
	flipped := []byte(s)
	flipped[i+5] ^= 1 // still base64, different signature
	for _, tc := range []struct {
		name string
		in   string
		want error
	}{
		{"oversized", strings.Repeat(" ", MaxSignedManifestSize+1), ErrTooLarge},
		{"truncated", s[:len(s)-10], ErrTruncated},
		{"empty", "", ErrTruncated},
		{"garbage", "\x00\x01", ErrMalformed},
		{"unknown field", strings.Replace(s, `{"manifest":`, `{"x":1,"manifest":`, 1), ErrMalformed},
		{"bad signer", strings.Replace(s, `"signer":"12D3`, `"signer":"xx`, 1), ErrMalformed},
		{"flipped signature bit", string(flipped), ErrBadSignature},
		{"whitespace", strings.Replace(s, `,"sig":`, `, "sig":`, 1), ErrNotCanonical},
		{"manifest indented", strings.Replace(s, `{"manifest":{"v":1,`, `{"manifest":{"v":1, `, 1), ErrNotCanonical},
		{"wrong version", strings.Replace(s, `"v":1`, `"v":2`, 1), ErrUnsupportedVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := OpenManifest([]byte(tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func FuzzOpenManifest(f *testing.F) {
	_, b := signedTestManifest(f)
	f.Add(b)
	f.Add([]byte(`{"manifest":{},"signer":"","sig":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, s, err := OpenManifest(b)
		if err != nil {
			return
		}
		again, err := s.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs: %v\n%q\n%q", err, again, b)
		}
		if id, _ := m.ID(); !id.Equals(s.ID()) {
			t.Fatalf("ID %s != %s", id, s.ID())
		}
	})
}
