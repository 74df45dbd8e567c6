package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ManifestSigningDomain prefixes the canonical bytes of a manifest before
// they are signed, so the signature is valid for nothing else.
const ManifestSigningDomain = "renderswarm/manifest/v1\x00"

// MaxSignedManifestSize caps the wire form of a SignedManifest: the manifest,
// a peer ID, a base64 Ed25519 signature and the JSON around them.
const MaxSignedManifestSize = MaxManifestSize + 512

// Signature errors.
var (
	ErrBadSignature      = errors.New("signature does not verify")
	ErrPublisherMismatch = errors.New("signer is not the manifest's publisher")
	ErrUnsupportedKey    = errors.New("not an Ed25519 identity")
)

// SignedManifest is a manifest as it travels: its canonical bytes, signed by
// its publisher. Verify (or OpenManifest) before trusting any of it.
type SignedManifest struct {
	Manifest  []byte  // canonical manifest bytes
	Signer    peer.ID // must equal the manifest's Publisher
	Signature []byte  // Ed25519 over ManifestSigningDomain ‖ Manifest
}

type signedWire struct {
	Manifest  json.RawMessage `json:"manifest"`
	Signer    string          `json:"signer"`
	Signature []byte          `json:"sig"`
}

// Sign encodes m canonically and signs it with priv, which must be the
// Ed25519 key of m.Publisher.
func (m Manifest) Sign(priv crypto.PrivKey) (SignedManifest, error) {
	if _, ok := priv.(*crypto.Ed25519PrivateKey); !ok {
		return SignedManifest{}, fmt.Errorf("signing manifest: key %w", ErrUnsupportedKey)
	}
	signer, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return SignedManifest{}, fmt.Errorf("signing manifest: %w", err)
	}
	if signer != m.Publisher {
		return SignedManifest{}, fmt.Errorf("signing manifest: %w: key of %s, publisher %s", ErrPublisherMismatch, signer, m.Publisher)
	}
	b, err := m.Marshal()
	if err != nil {
		return SignedManifest{}, err
	}
	sig, err := priv.Sign(signedBytes(b))
	if err != nil {
		return SignedManifest{}, fmt.Errorf("signing manifest: %w", err)
	}
	return SignedManifest{Manifest: b, Signer: signer, Signature: sig}, nil
}

// Verify decodes the manifest (see UnmarshalManifest), checks the signature
// against the key in Signer's peer ID and that Signer is the publisher. The
// error wraps a decoding error, ErrUnsupportedKey, ErrBadSignature or
// ErrPublisherMismatch.
func (s SignedManifest) Verify() (Manifest, error) {
	m, err := UnmarshalManifest(s.Manifest)
	if err != nil {
		return Manifest{}, err
	}
	pub, err := publicKey(s.Signer)
	if err != nil {
		return Manifest{}, fmt.Errorf("manifest signer %s: %w", s.Signer, err)
	}
	ok, err := pub.Verify(signedBytes(s.Manifest), s.Signature)
	if err != nil || !ok {
		return Manifest{}, fmt.Errorf("manifest %s: %w for signer %s", ManifestID(s.Manifest), ErrBadSignature, s.Signer)
	}
	if s.Signer != m.Publisher {
		return Manifest{}, fmt.Errorf("manifest %s: %w: signed by %s, publisher %s", ManifestID(s.Manifest), ErrPublisherMismatch, s.Signer, m.Publisher)
	}
	return m, nil
}

// ID returns the job ID of the manifest bytes, without verifying anything.
func (s SignedManifest) ID() cid.Cid { return ManifestID(s.Manifest) }

// Marshal returns the wire form of s (see the package documentation). It
// checks only the sizes; Verify checks the content.
func (s SignedManifest) Marshal() ([]byte, error) {
	if len(s.Manifest) > MaxManifestSize {
		return nil, fmt.Errorf("signed manifest: %w", ErrTooLarge)
	}
	b, err := encodeJSON(signedWire{Manifest: s.Manifest, Signer: s.Signer.String(), Signature: s.Signature})
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSignedManifestSize {
		return nil, fmt.Errorf("signed manifest of %d bytes: %w (limit %d)", len(b), ErrTooLarge, MaxSignedManifestSize)
	}
	return b, nil
}

// OpenManifest decodes the wire form of a signed manifest, accepting only the
// exact form Marshal writes, and verifies it. This is the one way to read a
// manifest from the network.
func OpenManifest(b []byte) (Manifest, SignedManifest, error) {
	if len(b) > MaxSignedManifestSize {
		return Manifest{}, SignedManifest{}, fmt.Errorf("signed manifest of %d bytes: %w (limit %d)", len(b), ErrTooLarge, MaxSignedManifestSize)
	}
	var w signedWire
	if err := decodeJSON(b, &w, true); err != nil {
		return Manifest{}, SignedManifest{}, fmt.Errorf("signed manifest: %w", err)
	}
	signer, err := peer.Decode(w.Signer)
	if err != nil {
		return Manifest{}, SignedManifest{}, fmt.Errorf("signed manifest: %w: signer %q: %v", ErrMalformed, w.Signer, err)
	}
	s := SignedManifest{Manifest: []byte(w.Manifest), Signer: signer, Signature: w.Signature}
	m, err := s.Verify()
	if err != nil {
		return Manifest{}, SignedManifest{}, err
	}
	back, err := s.Marshal()
	if err != nil {
		return Manifest{}, SignedManifest{}, err
	}
	if !bytes.Equal(back, b) {
		return Manifest{}, SignedManifest{}, fmt.Errorf("signed manifest: %w", ErrNotCanonical)
	}
	return m, s, nil
}

func signedBytes(canonical []byte) []byte {
	return append([]byte(ManifestSigningDomain), canonical...)
}

// publicKey extracts the Ed25519 key embedded in an identity peer ID.
func publicKey(id peer.ID) (crypto.PubKey, error) {
	pub, err := id.ExtractPublicKey()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedKey, err)
	}
	if _, ok := pub.(*crypto.Ed25519PublicKey); !ok {
		return nil, ErrUnsupportedKey
	}
	return pub, nil
}
