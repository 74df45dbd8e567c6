// Package job is renderswarm's leaf vocabulary: the job manifest and its
// canonical encoding, signed manifests and job IDs, frame specs, tasks, asset
// and result CIDs, pixel digests and salted commitments.
//
// Everyone imports job, so job imports only the standard library, go-cid,
// go-multihash and go-libp2p's core/peer and core/crypto (deps_test.go keeps
// it so). It holds data and pure functions: no I/O, no goroutines, no clock.
// A manifest from a stranger is data, never a script.
//
// # Canonical manifest encoding (format version 1)
//
// The canonical bytes of a Manifest are compact JSON with:
//
//   - the fields of the wire form in one fixed order (see manifestWire in
//     encoding.go), every field always present, no other fields;
//   - integers only (no floats, exponents, signs on zero or leading zeros);
//   - strings exactly as json.Marshal writes them: valid UTF-8; `"`, `\`
//     and control characters escaped; <, >, &, U+2028 and U+2029 as \u003c,
//     \u003e, \u0026, \u2028 and \u2029 (HTML-safe, so the bytes stay
//     unchanged when any Go json.Marshal embeds them as a json.RawMessage);
//     nothing else escaped;
//   - no insignificant whitespace and no trailing newline (json.Marshal's
//     output, not json.Encoder's);
//   - CIDs as CIDv1 base32 text, the publisher as its base58 peer ID, frames
//     (and first frames, "" when none) as FrameSpec's normalized String,
//     Tiles 1 written as 0.
//
// At most MaxManifestSize bytes. UnmarshalManifest accepts exactly these
// bytes: it rejects input over the size cap, truncated or malformed JSON,
// unknown fields, another format version and invalid values, and then
// re-encodes what it decoded and rejects the input unless the bytes are
// identical, so every manifest has exactly one encoding and one ID.
//
// # Job ID
//
// The job ID is CIDv1(multicodec json 0x0200, sha2-256(canonical bytes)),
// written as base32 text ("bagaaiera…"). The signature is not part of it.
// TestManifestGolden pins the bytes, the ID and the signature.
//
// # Signed manifests
//
// A SignedManifest carries the canonical bytes, the signer's peer ID and an
// Ed25519 signature over "renderswarm/manifest/v1\x00" followed by the
// canonical bytes. The prefix keeps a manifest signature from ever being valid
// for anything else the node signs. Verify checks the signature against the
// key embedded in the signer's peer ID and that the signer is the manifest's
// publisher. Its wire form is compact JSON
// {"manifest":<canonical bytes>,"signer":"<peer ID>","sig":"<base64>"} of at
// most MaxSignedManifestSize bytes, and OpenManifest accepts only that exact
// form.
//
// # Tasks and results
//
// A Task is one unit of work: job ID, frame and tile; its text form is
// "<job ID>/<frame>/<tile>". A result is named by the asset CID (AssetCID) of
// the torrent holding the rendered image. Before revealing it, a volunteer
// commits to sha256(salt ‖ pixel digest) (Commit), with a fresh salt per
// replica, so copying another volunteer's result gains nothing.
package job
