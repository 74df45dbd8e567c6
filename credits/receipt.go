package credits

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/job"
)

// ReceiptVersion is the receipt format this package reads and writes.
const ReceiptVersion = 1

// Bounds on receipts.
const (
	// MaxReceiptSize caps the canonical bytes of a receipt; a valid one is
	// about 400 bytes.
	MaxReceiptSize = 2 << 10
	// MaxSignedReceiptSize caps the wire form: the receipt, two base64
	// signatures and the JSON around them.
	MaxSignedReceiptSize = MaxReceiptSize + 512
	// MaxMilliCU bounds CU and Total (and every other milli-CU amount): 2^53-1,
	// exact in JavaScript too, and far beyond any real total (285,000 years of
	// reference rendering).
	MaxMilliCU = 1<<53 - 1
)

// Receipt errors. Decoding errors wrap job's ErrTooLarge, ErrTruncated,
// ErrMalformed, ErrUnsupportedVersion or ErrNotCanonical; signature errors
// wrap job.ErrBadSignature or job.ErrUnsupportedKey.
var (
	ErrInvalidReceipt   = errors.New("invalid receipt")
	ErrWrongKey         = errors.New("key does not belong to the receipt's party")
	ErrNotCountersigned = errors.New("receipt not countersigned")
)

// Receipt is a publisher's acknowledgement that a volunteer rendered one
// accepted result (DESIGN.md §6). Receipts of one (publisher, volunteer) pair
// form a chain: Seq counts 1, 2, 3…, and Total is the pair's running total
// including this receipt, so the latest receipt alone proves everything
// before it. Task and Result let anyone audit it by re-rendering a crop.
type Receipt struct {
	Publisher peer.ID  // who pays: signs first
	Volunteer peer.ID  // who rendered: countersigns
	Seq       uint64   // 1, 2, 3… per pair
	Task      job.Task // the task rendered
	Result    cid.Cid  // asset CID of the accepted result
	CU        int64    // milli-CU this receipt credits
	Total     int64    // the pair's running milli-CU total, this receipt included
	Issued    int64    // Unix seconds on the publisher's clock
}

// receiptWire is the canonical field order. Changing it, a name or a type is
// a new ReceiptVersion.
type receiptWire struct {
	V         int64  `json:"v"`
	Publisher string `json:"publisher"`
	Volunteer string `json:"volunteer"`
	Seq       int64  `json:"seq"`
	Task      string `json:"task"`
	Result    string `json:"result"`
	CU        int64  `json:"cu"`
	Total     int64  `json:"total"`
	Issued    int64  `json:"issued"`
}

// Validate reports why r is not a receipt anyone should sign, wrapping
// ErrInvalidReceipt.
func (r Receipt) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidReceipt, fmt.Sprintf(format, args...))
	}
	if err := checkIdentity(r.Publisher); err != nil {
		return bad("publisher %q: %v", r.Publisher, err)
	}
	if err := checkIdentity(r.Volunteer); err != nil {
		return bad("volunteer %q: %v", r.Volunteer, err)
	}
	switch {
	case r.Publisher == r.Volunteer:
		return bad("publisher and volunteer are both %s", r.Publisher)
	case r.Seq < 1 || r.Seq > MaxMilliCU:
		return bad("seq %d out of 1..2^53-1", r.Seq)
	case job.CheckID(r.Task.Job) != nil || r.Task.Frame < 0 || r.Task.Frame > job.MaxFrameNumber ||
		r.Task.Tile < 0 || r.Task.Tile >= job.MaxTiles:
		return bad("task %v", r.Task)
	case !r.Result.Defined():
		return bad("no result CID")
	case r.CU < 0 || r.Total < r.CU || r.Total > MaxMilliCU:
		return bad("cu %d and total %d: want 0 <= cu <= total <= 2^53-1", r.CU, r.Total)
	case r.Seq == 1 && r.Total != r.CU:
		return bad("first receipt of a pair with total %d != cu %d", r.Total, r.CU)
	case r.Issued < 1 || r.Issued > job.MaxTime:
		return bad("issued %d", r.Issued)
	}
	if _, err := job.InfoHash(r.Result); err != nil {
		return bad("result %s: %v", r.Result, err)
	}
	return nil
}

// Marshal validates r and returns its canonical bytes (see the package
// documentation).
func (r Receipt) Marshal() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(receiptWire{
		V:         ReceiptVersion,
		Publisher: r.Publisher.String(),
		Volunteer: r.Volunteer.String(),
		Seq:       int64(r.Seq),
		Task:      r.Task.String(),
		Result:    r.Result.String(),
		CU:        r.CU,
		Total:     r.Total,
		Issued:    r.Issued,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding receipt: %w", err)
	}
	if len(b) > MaxReceiptSize {
		return nil, fmt.Errorf("receipt of %d bytes: %w", len(b), job.ErrTooLarge)
	}
	return b, nil
}

// UnmarshalReceipt decodes canonical receipt bytes and accepts nothing else:
// over MaxReceiptSize, malformed or truncated JSON, unknown fields, another
// version, invalid values, or any bytes that do not re-encode identically.
func UnmarshalReceipt(b []byte) (Receipt, error) {
	if len(b) > MaxReceiptSize {
		return Receipt{}, fmt.Errorf("receipt of %d bytes: %w (limit %d)", len(b), job.ErrTooLarge, MaxReceiptSize)
	}
	var w receiptWire
	if err := job.DecodeStrict(b, &w); err != nil {
		return Receipt{}, fmt.Errorf("receipt: %w", err)
	}
	if w.V != ReceiptVersion {
		return Receipt{}, fmt.Errorf("receipt: %w %d (this node reads %d)", job.ErrUnsupportedVersion, w.V, ReceiptVersion)
	}
	r, err := w.receipt()
	if err != nil {
		return Receipt{}, fmt.Errorf("%w: %v", ErrInvalidReceipt, err)
	}
	back, err := r.Marshal()
	if err != nil {
		return Receipt{}, err
	}
	if !bytes.Equal(back, b) {
		return Receipt{}, fmt.Errorf("receipt: %w", job.ErrNotCanonical)
	}
	return r, nil
}

func (w receiptWire) receipt() (Receipt, error) {
	pub, err := peer.Decode(w.Publisher)
	if err != nil {
		return Receipt{}, fmt.Errorf("publisher %q: %v", w.Publisher, err)
	}
	vol, err := peer.Decode(w.Volunteer)
	if err != nil {
		return Receipt{}, fmt.Errorf("volunteer %q: %v", w.Volunteer, err)
	}
	task, err := job.ParseTask(w.Task)
	if err != nil {
		return Receipt{}, err
	}
	res, err := cid.Decode(w.Result)
	if err != nil {
		return Receipt{}, fmt.Errorf("result %q: %v", w.Result, err)
	}
	if w.Seq < 1 {
		return Receipt{}, fmt.Errorf("seq %d", w.Seq)
	}
	return Receipt{Publisher: pub, Volunteer: vol, Seq: uint64(w.Seq), Task: task, Result: res,
		CU: w.CU, Total: w.Total, Issued: w.Issued}, nil
}

// ID returns the receipt's CID: CIDv1(json, sha2-256(canonical bytes)), the
// same recipe as a job ID.
func (r Receipt) ID() (cid.Cid, error) {
	b, err := r.Marshal()
	if err != nil {
		return cid.Undef, err
	}
	return job.ManifestID(b), nil
}

// checkIdentity requires an Ed25519 identity peer ID: the only kind that
// can sign a receipt.
func checkIdentity(id peer.ID) error {
	pub, err := id.ExtractPublicKey()
	if err != nil {
		return err
	}
	if _, ok := pub.(*crypto.Ed25519PublicKey); !ok {
		return job.ErrUnsupportedKey
	}
	return nil
}

func sigLenOK(sig []byte) bool { return len(sig) == ed25519.SignatureSize }
