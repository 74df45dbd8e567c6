package job

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// The text form of an asset CID is what users paste to each other: pin it.
func TestAssetCIDGolden(t *testing.T) {
	var ih [20]byte
	hex.Decode(ih[:], []byte("d2474e86c95b19b8bcfdb92bc12c9d44667cfa36"))
	c := AssetCID(ih)
	const want = "baf5rcfgsi5hinsk3dg4lz7nzfpaszhkemz6punq"
	if c.String() != want {
		t.Fatalf("AssetCID = %s, want %s", c, want)
	}
	got, back, err := ParseAssetCID(want)
	if err != nil || back != ih || !got.Equals(c) {
		t.Fatalf("ParseAssetCID(%s) = %v, %x, %v", want, got, back, err)
	}
}

func TestParseAssetCIDRejects(t *testing.T) {
	sha, _ := mh.Sum([]byte("x"), mh.SHA2_256, -1)
	for name, s := range map[string]string{
		"garbage":   "not-a-cid",
		"empty":     "",
		"raw codec": cid.NewCidV1(cid.Raw, sha).String(),
		"sha256 ti": cid.NewCidV1(TorrentInfoCodec, sha).String(),
		"truncated": "baf5rcfgsi5hinsk3dg4lz7nzfpaszhk",
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := ParseAssetCID(s); err == nil {
				t.Fatalf("ParseAssetCID(%q) accepted", s)
			}
		})
	}
	if _, err := InfoHash(cid.NewCidV1(TorrentInfoCodec, sha)); !errors.Is(err, ErrNotAssetCID) {
		t.Fatalf("sha256 torrent-info: err = %v, want ErrNotAssetCID", err)
	}
}
