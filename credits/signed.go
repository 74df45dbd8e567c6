package credits

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/job"
)

// Signature domains. Each prefixes what is signed, so neither signature is
// ever valid for anything else a node signs (manifests use
// job.ManifestSigningDomain), nor for the other role.
const (
	// ReceiptSigningDomain: the publisher signs domain ‖ canonical receipt.
	ReceiptSigningDomain = "renderswarm/receipt/v1\x00"
	// CountersignDomain: the volunteer signs domain ‖ canonical receipt ‖
	// publisher's signature (64 bytes), acknowledging that exact signed
	// receipt.
	CountersignDomain = "renderswarm/receipt-countersign/v1\x00"
)

// SignedReceipt is a receipt as it travels and is stored: its canonical
// bytes, the publisher's signature and, once the volunteer has accepted it,
// the volunteer's countersignature. The signers are the receipt's Publisher
// and Volunteer, so they are not repeated. Verify (or OpenReceipt) before
// trusting any of it.
type SignedReceipt struct {
	Receipt    []byte // canonical receipt bytes
	Signature  []byte // publisher's Ed25519 signature
	Countersig []byte // volunteer's Ed25519 signature; nil until countersigned
}

type signedReceiptWire struct {
	Receipt    json.RawMessage `json:"receipt"`
	Signature  []byte          `json:"sig"`
	Countersig []byte          `json:"countersig,omitempty"`
}

// Sign encodes r canonically and signs it as its publisher. priv must be the
// Ed25519 key of r.Publisher.
func (r Receipt) Sign(priv crypto.PrivKey) (SignedReceipt, error) {
	if err := checkKey(priv, r.Publisher); err != nil {
		return SignedReceipt{}, fmt.Errorf("signing receipt: %w", err)
	}
	b, err := r.Marshal()
	if err != nil {
		return SignedReceipt{}, err
	}
	sig, err := priv.Sign(publisherMessage(b))
	if err != nil {
		return SignedReceipt{}, fmt.Errorf("signing receipt: %w", err)
	}
	return SignedReceipt{Receipt: b, Signature: sig}, nil
}

// Countersign verifies the publisher's signature and returns s countersigned
// with priv, which must be the Ed25519 key of the receipt's Volunteer.
func (s SignedReceipt) Countersign(priv crypto.PrivKey) (SignedReceipt, error) {
	r, err := s.verifyPublisher()
	if err != nil {
		return SignedReceipt{}, err
	}
	return s.countersignChecked(r, priv)
}

// countersignChecked is Countersign of a receipt r whose publisher's
// signature has been verified.
func (s SignedReceipt) countersignChecked(r Receipt, priv crypto.PrivKey) (SignedReceipt, error) {
	if err := checkKey(priv, r.Volunteer); err != nil {
		return SignedReceipt{}, fmt.Errorf("countersigning receipt: %w", err)
	}
	sig, err := priv.Sign(countersignMessage(s.Receipt, s.Signature))
	if err != nil {
		return SignedReceipt{}, fmt.Errorf("countersigning receipt: %w", err)
	}
	return SignedReceipt{Receipt: s.Receipt, Signature: s.Signature, Countersig: sig}, nil
}

// Countersigned reports whether s carries a countersignature (not whether it
// verifies).
func (s SignedReceipt) Countersigned() bool { return len(s.Countersig) > 0 }

// Verify decodes the receipt and checks the publisher's signature and, when
// present, the volunteer's countersignature, each against the key in that
// party's peer ID. Use Countersigned to require both.
func (s SignedReceipt) Verify() (Receipt, error) {
	r, err := s.verifyPublisher()
	if err != nil || !s.Countersigned() {
		return r, err
	}
	if err := verifySig(r.Volunteer, countersignMessage(s.Receipt, s.Signature), s.Countersig); err != nil {
		return Receipt{}, fmt.Errorf("receipt %d of %s from %s: countersignature: %w", r.Seq, r.Volunteer, r.Publisher, err)
	}
	return r, nil
}

func (s SignedReceipt) verifyPublisher() (Receipt, error) {
	r, err := UnmarshalReceipt(s.Receipt)
	if err != nil {
		return Receipt{}, err
	}
	if err := verifySig(r.Publisher, publisherMessage(s.Receipt), s.Signature); err != nil {
		return Receipt{}, fmt.Errorf("receipt %d of %s from %s: publisher signature: %w", r.Seq, r.Volunteer, r.Publisher, err)
	}
	return r, nil
}

// ID returns the CID of the receipt bytes (signatures excluded), without
// verifying anything.
func (s SignedReceipt) ID() cid.Cid { return job.ManifestID(s.Receipt) }

// Marshal returns the wire form of s: compact JSON
// {"receipt":<canonical bytes>,"sig":"<base64>","countersig":"<base64>"},
// countersig left out until there is one. It checks only sizes; Verify checks
// the content.
func (s SignedReceipt) Marshal() ([]byte, error) {
	if len(s.Receipt) > MaxReceiptSize {
		return nil, fmt.Errorf("signed receipt: %w", job.ErrTooLarge)
	}
	w := signedReceiptWire{Receipt: s.Receipt, Signature: s.Signature}
	if len(s.Countersig) > 0 {
		w.Countersig = s.Countersig
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encoding signed receipt: %w", err)
	}
	if len(b) > MaxSignedReceiptSize {
		return nil, fmt.Errorf("signed receipt of %d bytes: %w (limit %d)", len(b), job.ErrTooLarge, MaxSignedReceiptSize)
	}
	return b, nil
}

// OpenReceipt decodes the wire form of a signed receipt, accepting only the
// exact bytes Marshal writes, and verifies it (see Verify). This is the one
// way to read a receipt from the network, but for OpenReturned.
func OpenReceipt(b []byte) (Receipt, SignedReceipt, error) {
	s, err := decodeSigned(b)
	if err != nil {
		return Receipt{}, SignedReceipt{}, err
	}
	r, err := s.Verify()
	if err != nil {
		return Receipt{}, SignedReceipt{}, err
	}
	return r, s, nil
}

// OpenReturned is OpenReceipt for receipts a publisher gets back
// countersigned, to record with Ledger.RecordCountersigned(All), which
// verifies the countersignature and compares the publisher's signature
// with the one it stored: verifying its own signature here as well cost a
// publisher a third of the signatures it checks. A receipt it does not
// hold is verified whole before it adopts it (Ledger.Adopt).
func OpenReturned(b []byte) (SignedReceipt, error) {
	return decodeSigned(b)
}

// decodeSigned decodes the wire form of a signed receipt, accepting only
// the exact bytes Marshal writes, without verifying it.
func decodeSigned(b []byte) (SignedReceipt, error) {
	if len(b) > MaxSignedReceiptSize {
		return SignedReceipt{}, fmt.Errorf("signed receipt of %d bytes: %w (limit %d)", len(b), job.ErrTooLarge, MaxSignedReceiptSize)
	}
	var w signedReceiptWire
	if err := job.DecodeStrict(b, &w); err != nil {
		return SignedReceipt{}, fmt.Errorf("signed receipt: %w", err)
	}
	s := SignedReceipt{Receipt: []byte(w.Receipt), Signature: w.Signature, Countersig: w.Countersig}
	back, err := s.Marshal()
	if err != nil {
		return SignedReceipt{}, err
	}
	if !bytes.Equal(back, b) {
		return SignedReceipt{}, fmt.Errorf("signed receipt: %w", job.ErrNotCanonical)
	}
	return s, nil
}

func publisherMessage(canonical []byte) []byte {
	return append([]byte(ReceiptSigningDomain), canonical...)
}

func countersignMessage(canonical, publisherSig []byte) []byte {
	m := make([]byte, 0, len(CountersignDomain)+len(canonical)+len(publisherSig))
	m = append(m, CountersignDomain...)
	m = append(m, canonical...)
	return append(m, publisherSig...)
}

// checkKey reports whether priv is the Ed25519 key of id.
func checkKey(priv crypto.PrivKey, id peer.ID) error {
	if _, ok := priv.(*crypto.Ed25519PrivateKey); !ok {
		return job.ErrUnsupportedKey
	}
	owner, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return fmt.Errorf("%w: %v", job.ErrUnsupportedKey, err)
	}
	if owner != id {
		return fmt.Errorf("%w: key of %s, party %s", ErrWrongKey, owner, id)
	}
	return nil
}

// verifySig checks an Ed25519 signature against the key embedded in id.
func verifySig(id peer.ID, msg, sig []byte) error {
	pub, err := id.ExtractPublicKey()
	if err != nil {
		return fmt.Errorf("%w: %v", job.ErrUnsupportedKey, err)
	}
	if _, ok := pub.(*crypto.Ed25519PublicKey); !ok {
		return job.ErrUnsupportedKey
	}
	if !sigLenOK(sig) {
		return job.ErrBadSignature
	}
	ok, err := pub.Verify(msg, sig)
	if err != nil || !ok {
		return job.ErrBadSignature
	}
	return nil
}
