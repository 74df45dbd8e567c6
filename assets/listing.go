package assets

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"strings"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A listing is an asset whose BitTorrent v1 info dictionary, besides the
// standard files and pieces of the whole tree, carries the key
// "renderswarm": for every file its content ID and mode, and the packs
// that hold the small files. Stock clients ignore the key and see an
// ordinary multi-file torrent (the info dictionary is still what the CID
// names); renderswarm nodes fetch each file's content on its own, so one
// content is stored and fetched once per node whatever listings name it.
//
// A content ID is the infohash of the file's own torrent in canonical form
// (unitInfo): single file, named "blob", piece length a function of the
// size only. Two nodes that add the same bytes get the same ID.
type listingExt struct {
	Content []byte  `bencode:"content"`         // 20 bytes per file, in files order
	In      []int64 `bencode:"in"`              // per file: index of the pack that holds it, or -1: its own torrent (or empty)
	Modes   string  `bencode:"modes"`           // per file: 'x' executable, '-' not
	Owner   []byte  `bencode:"owner,omitempty"` // the signer's marshalled libp2p public key
	Packs   []byte  `bencode:"packs"`           // 20 bytes per pack: infohashes of the packs of small files
	Sig     []byte  `bencode:"sig,omitempty"`   // Ed25519 signature of sigMessage
	V       int64   `bencode:"v"`               // listingVersion
}

// listingInfo is the info dictionary of a listing: the standard fields and
// ours. Only the fields renderswarm writes may appear (checked by
// re-encoding), so the signature covers everything.
type listingInfo struct {
	Files       []listingFile `bencode:"files"`
	Name        string        `bencode:"name"`
	PieceLength int64         `bencode:"piece length"`
	Pieces      []byte        `bencode:"pieces"`
	Ext         *listingExt   `bencode:"renderswarm,omitempty"`
}

type listingFile struct {
	Length int64    `bencode:"length"`
	Path   []string `bencode:"path"`
}

const (
	listingVersion = 1
	sigDomain      = "renderswarm listing v1\n"
	// packBelow: files smaller than this are grouped into packs; larger
	// ones are their own torrents (each one provided on the DHT).
	packBelow    = 1 << 20
	maxPackBytes = 64 << 20
	maxPackFiles = 16384
	unitName     = "blob" // the name of every file torrent
	packName     = "pack"
)

// Entry is one file of a listing.
type Entry struct {
	Path    string `json:"path"` // slash path in the asset
	Size    int64  `json:"size"`
	Exec    bool   `json:"exec,omitempty"`
	Content string `json:"content"` // content ID, hex
}

// Listing is a parsed, validated listing.
type Listing struct {
	Name    string  `json:"name"`
	Owner   string  `json:"owner,omitempty"` // peer ID of the signer
	Entries []Entry `json:"entries"`

	info  *metainfo.Info
	ext   *listingExt
	packs []metainfo.Hash
}

// Size is the listing's total bytes.
func (l *Listing) Size() int64 {
	var n int64
	for _, e := range l.Entries {
		n += e.Size
	}
	return n
}

// ErrNotListing is returned for an asset that is a plain torrent.
var ErrNotListing = errors.New("a plain torrent, not a listing")

// hasListingExt tells whether raw info bytes carry a listing.
func hasListingExt(infoBytes []byte) bool {
	var probe struct {
		Ext *bencode.Bytes `bencode:"renderswarm,omitempty"`
	}
	return bencode.Unmarshal(infoBytes, &probe) == nil && probe.Ext != nil
}

// parseListing decodes and validates a listing's info bytes: safe paths,
// consistent per-file fields, canonical encoding and a valid signature.
// Errors wrap ErrUnsafeInfo.
func parseListing(infoBytes []byte) (*Listing, error) {
	var li listingInfo
	if err := bencode.Unmarshal(infoBytes, &li); err != nil {
		return nil, unsafeInfo("listing: %v", err)
	}
	if li.Ext == nil {
		return nil, ErrNotListing
	}
	if again, err := bencode.Marshal(li); err != nil || !bytes.Equal(again, infoBytes) {
		return nil, unsafeInfo("listing: not in canonical form (unknown or reordered keys)")
	}
	var info metainfo.Info
	if err := bencode.Unmarshal(infoBytes, &info); err != nil {
		return nil, unsafeInfo("listing: %v", err)
	}
	if err := validateInfo(&info); err != nil {
		return nil, err
	}
	x := li.Ext
	n := len(li.Files)
	switch {
	case x.V != listingVersion:
		return nil, unsafeInfo("listing version %d, want %d", x.V, listingVersion)
	case n == 0:
		return nil, unsafeInfo("listing has no files")
	case len(x.Content) != n*sha1.Size || len(x.In) != n || len(x.Modes) != n:
		return nil, unsafeInfo("listing: per-file fields do not match its %d files", n)
	case len(x.Packs)%sha1.Size != 0 || len(x.Packs)/sha1.Size > n:
		return nil, unsafeInfo("listing: bad packs field")
	}
	l := &Listing{Name: li.Name, info: &info, ext: x}
	for i := 0; i < len(x.Packs); i += sha1.Size {
		l.packs = append(l.packs, metainfo.Hash(x.Packs[i:i+sha1.Size]))
	}
	for i, f := range li.Files {
		in := x.In[i]
		if in < -1 || in >= int64(len(l.packs)) || (f.Length == 0 && in != -1) {
			return nil, unsafeInfo("listing: file %d names pack %d of %d", i, in, len(l.packs))
		}
		if m := x.Modes[i]; m != 'x' && m != '-' {
			return nil, unsafeInfo("listing: file %d has mode %q", i, m)
		}
		l.Entries = append(l.Entries, Entry{
			Path: strings.Join(f.Path, "/"), Size: f.Length, Exec: x.Modes[i] == 'x',
			Content: fmt.Sprintf("%x", x.Content[i*sha1.Size:(i+1)*sha1.Size]),
		})
	}
	if x.Owner != nil || x.Sig != nil {
		pub, err := crypto.UnmarshalPublicKey(x.Owner)
		if err != nil {
			return nil, unsafeInfo("listing owner key: %v", err)
		}
		msg, err := sigMessage(li)
		if err != nil {
			return nil, err
		}
		if ok, err := pub.Verify(msg, x.Sig); err != nil || !ok {
			return nil, unsafeInfo("listing signature does not verify")
		}
		id, err := peer.IDFromPublicKey(pub)
		if err != nil {
			return nil, unsafeInfo("listing owner key: %v", err)
		}
		l.Owner = id.String()
	}
	return l, nil
}

// content returns file i's content ID.
func (l *Listing) content(i int) metainfo.Hash {
	return metainfo.Hash(l.ext.Content[i*sha1.Size : (i+1)*sha1.Size])
}

// sigMessage is what a listing's owner signs: the domain and the info
// dictionary without its signature.
func sigMessage(li listingInfo) ([]byte, error) {
	x := *li.Ext
	x.Sig = nil
	li.Ext = &x
	b, err := bencode.Marshal(li)
	if err != nil {
		return nil, fmt.Errorf("encoding listing: %w", err)
	}
	return append([]byte(sigDomain), b...), nil
}

// signListing sets owner and signature (key may be nil: unsigned) and
// returns the info bytes.
func signListing(li listingInfo, key crypto.PrivKey) ([]byte, error) {
	if key != nil {
		owner, err := crypto.MarshalPublicKey(key.GetPublic())
		if err != nil {
			return nil, err
		}
		li.Ext.Owner = owner
		msg, err := sigMessage(li)
		if err != nil {
			return nil, err
		}
		if li.Ext.Sig, err = key.Sign(msg); err != nil {
			return nil, fmt.Errorf("signing listing: %w", err)
		}
	}
	return bencode.Marshal(li)
}
