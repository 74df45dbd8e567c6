package collection

import (
	"errors"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/job"
)

func signed(t *testing.T, key crypto.PrivKey, version uint64) Record {
	t.Helper()
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Record{Owner: id, Name: "textures", Version: version, Listing: job.AssetCID([20]byte{1, 2, 3}), Created: 1700000000}.Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRecordRoundTripAndForgeries(t *testing.T) {
	key, _, _ := crypto.GenerateEd25519Key(nil)
	other, _, _ := crypto.GenerateEd25519Key(nil)
	r := signed(t, key, 3)
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Ref() != r.Ref() || got.Listing != r.Listing {
		t.Fatalf("decoded %+v, want %+v", got, r)
	}
	// Another key cannot sign for the owner.
	if _, err := (Record{Owner: r.Owner, Name: "x", Version: 1, Listing: r.Listing}).Sign(other); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("signing for another owner: %v", err)
	}
	theirs := signed(t, other, 3)
	for name, forged := range map[string]string{
		"version raised":   strings.Replace(string(data), `"version":3`, `"version":4`, 1),
		"name changed":     strings.Replace(string(data), `"textures"`, `"texture2"`, 1),
		"owner swapped":    strings.Replace(string(data), r.Owner.String(), theirs.Owner.String(), 1),
		"unknown field":    strings.Replace(string(data), `{`, `{"x":1,`, 1),
		"bad listing":      strings.Replace(string(data), r.Listing.String(), "bafkqaaa", 1),
		"oversized record": string(data) + strings.Repeat(" ", MaxRecord),
	} {
		if _, err := Decode([]byte(forged)); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: %v, want ErrBadRecord", name, err)
		}
	}
}

func TestParseRef(t *testing.T) {
	key, _, _ := crypto.GenerateEd25519Key(nil)
	id, _ := peer.IDFromPrivateKey(key)
	r, err := ParseRef(id.String() + "/textures@12")
	if err != nil || r.Owner != id || r.Name != "textures" || r.Version != 12 {
		t.Fatalf("ParseRef: %+v, %v", r, err)
	}
	if r.Key() != (Ref{Owner: id, Name: "textures", Version: 3}).Key() {
		t.Error("a collection's key depends on the version")
	}
	for _, bad := range []string{"textures", id.String() + "/", id.String() + "/a b", id.String() + "/t@0", "nope/t", id.String() + "/../x"} {
		if _, err := ParseRef(bad); err == nil {
			t.Errorf("ParseRef(%q) accepted", bad)
		}
	}
}
