package collection

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/renderswarm/renderswarm/job"
)

// Record is one version of a named collection: owner + name -> version ->
// listing CID, signed by the owner's key.
type Record struct {
	Owner   peer.ID
	Name    string
	Version uint64
	Listing cid.Cid // the version's listing (an asset CID)
	Created int64   // unix seconds, the owner's clock
	Sig     []byte
}

// recordWire is a record's encoding: JSON with a fixed field order. The
// signature covers sigDomain and the encoding with Sig empty.
type recordWire struct {
	Owner   string `json:"owner"`
	Name    string `json:"name"`
	Version uint64 `json:"version"`
	Listing string `json:"listing"`
	Created int64  `json:"created"`
	Sig     []byte `json:"sig,omitempty"`
}

const (
	sigDomain = "renderswarm collection record v1\n"
	// MaxRecord bounds an encoded record.
	MaxRecord = 2 << 10
)

// Errors callers decide on.
var (
	ErrBadRecord = errors.New("bad collection record")
	ErrBackwards = errors.New("collection version goes backwards")
	ErrConflict  = errors.New("collection version already names another listing")
	ErrUnknown   = errors.New("collection not found")
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckName accepts a collection name: 1-64 letters, digits, '.', '_' or
// '-', not starting with punctuation.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("collection name %q: want 1-64 letters, digits, '.', '_' or '-'", name)
	}
	return nil
}

func (r Record) wire() recordWire {
	return recordWire{Owner: r.Owner.String(), Name: r.Name, Version: r.Version, Listing: r.Listing.String(),
		Created: r.Created, Sig: r.Sig}
}

func (r Record) signedBytes() ([]byte, error) {
	w := r.wire()
	w.Sig = nil
	b, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	return append([]byte(sigDomain), b...), nil
}

// Sign signs r with key, which must be its owner's.
func (r Record) Sign(key crypto.PrivKey) (Record, error) {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return Record{}, err
	}
	if id != r.Owner {
		return Record{}, fmt.Errorf("%w: signing key is not the owner's", ErrBadRecord)
	}
	msg, err := r.signedBytes()
	if err != nil {
		return Record{}, err
	}
	if r.Sig, err = key.Sign(msg); err != nil {
		return Record{}, fmt.Errorf("signing record: %w", err)
	}
	return r, nil
}

// Marshal encodes a signed record.
func (r Record) Marshal() ([]byte, error) { return json.Marshal(r.wire()) }

// Decode parses and verifies a record: its fields, and its signature
// against the owner's key (contained in an Ed25519 peer ID).
func Decode(data []byte) (Record, error) {
	bad := func(format string, args ...any) (Record, error) {
		return Record{}, fmt.Errorf("%w: %s", ErrBadRecord, fmt.Sprintf(format, args...))
	}
	if len(data) > MaxRecord {
		return bad("%d bytes, over %d", len(data), MaxRecord)
	}
	var w recordWire
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return bad("%v", err)
	}
	owner, err := peer.Decode(w.Owner)
	if err != nil {
		return bad("owner %q: %v", w.Owner, err)
	}
	if err := CheckName(w.Name); err != nil {
		return bad("%v", err)
	}
	if w.Version == 0 || w.Version > 1<<53 {
		return bad("version %d out of range", w.Version)
	}
	listing, _, err := job.ParseAssetCID(w.Listing)
	if err != nil {
		return bad("listing: %v", err)
	}
	r := Record{Owner: owner, Name: w.Name, Version: w.Version, Listing: listing, Created: w.Created, Sig: w.Sig}
	pub, err := owner.ExtractPublicKey()
	if err != nil {
		return bad("owner %s: no public key in the peer ID: %v", owner, err)
	}
	msg, err := r.signedBytes()
	if err != nil {
		return bad("%v", err)
	}
	if ok, err := pub.Verify(msg, r.Sig); err != nil || !ok {
		return bad("signature of %s does not verify", r.Ref())
	}
	return r, nil
}

// Ref is OWNER/NAME@VERSION.
func (r Record) Ref() string { return fmt.Sprintf("%s/%s@%d", r.Owner, r.Name, r.Version) }

// Ref names a collection, or one of its versions (Version 0: the newest).
type Ref struct {
	Owner   peer.ID
	Name    string
	Version uint64
}

// ParseRef parses OWNER/NAME[@VERSION].
func ParseRef(s string) (Ref, error) {
	ownerS, rest, ok := strings.Cut(s, "/")
	if !ok {
		return Ref{}, fmt.Errorf("collection %q: want OWNER/NAME[@VERSION]", s)
	}
	owner, err := peer.Decode(ownerS)
	if err != nil {
		return Ref{}, fmt.Errorf("collection %q: owner is not a peer ID: %v", s, err)
	}
	name, ver, hasVer := strings.Cut(rest, "@")
	if err := CheckName(name); err != nil {
		return Ref{}, err
	}
	r := Ref{Owner: owner, Name: name}
	if hasVer {
		if r.Version, err = strconv.ParseUint(ver, 10, 64); err != nil || r.Version == 0 {
			return Ref{}, fmt.Errorf("collection %q: version must be a number from 1", s)
		}
	}
	return r, nil
}

// IsRef tells a collection reference from a CID.
func IsRef(s string) bool { return strings.Contains(s, "/") }

func (r Ref) String() string {
	if r.Version == 0 {
		return fmt.Sprintf("%s/%s", r.Owner, r.Name)
	}
	return fmt.Sprintf("%s/%s@%d", r.Owner, r.Name, r.Version)
}

// Key is the DHT key under which the nodes holding a collection's records
// provide it: CIDv1(raw, sha2-256 of the owner and name).
func (r Ref) Key() cid.Cid {
	sum := sha256.Sum256([]byte("renderswarm collection\n" + r.Owner.String() + "/" + r.Name))
	m, err := mh.Encode(sum[:], mh.SHA2_256)
	if err != nil {
		panic(err) // a 32-byte sha2-256 digest always encodes
	}
	return cid.NewCidV1(cid.Raw, m)
}
