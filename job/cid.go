package job

import (
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// TorrentInfoCodec is the multicodec for a BitTorrent info dictionary
// ("torrent-info", 0x7b). An asset's CID is CIDv1(TorrentInfoCodec,
// sha1-multihash(infohash)): an exact address of the info dictionary, so a
// CID alone is enough to fetch and check an asset.
const TorrentInfoCodec = 0x7b

// ErrNotAssetCID is returned for a well-formed CID that does not name a
// torrent info dictionary.
var ErrNotAssetCID = errors.New("not an asset CID (want codec torrent-info 0x7b with a sha1 multihash)")

// AssetCID names the torrent whose v1 infohash is ih.
func AssetCID(ih [20]byte) cid.Cid {
	m, err := mh.Encode(ih[:], mh.SHA1)
	if err != nil {
		// Encode fails only for unknown codes or a length mismatch; SHA1 with
		// 20 bytes is neither.
		panic(err)
	}
	return cid.NewCidV1(TorrentInfoCodec, m)
}

// InfoHash returns the v1 infohash that an asset CID names.
func InfoHash(c cid.Cid) ([20]byte, error) {
	var ih [20]byte
	if !c.Defined() || c.Type() != TorrentInfoCodec {
		return ih, ErrNotAssetCID
	}
	dm, err := mh.Decode(c.Hash())
	if err != nil {
		return ih, fmt.Errorf("decoding multihash: %w", err)
	}
	if dm.Code != mh.SHA1 || len(dm.Digest) != len(ih) {
		return ih, ErrNotAssetCID
	}
	copy(ih[:], dm.Digest)
	return ih, nil
}

// ParseAssetCID parses the text form of an asset CID, as users paste it.
func ParseAssetCID(s string) (cid.Cid, [20]byte, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, [20]byte{}, fmt.Errorf("invalid CID %q: %w", s, err)
	}
	ih, err := InfoHash(c)
	if err != nil {
		return cid.Undef, [20]byte{}, fmt.Errorf("CID %s: %w", s, err)
	}
	return c, ih, nil
}
