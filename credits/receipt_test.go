package credits

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/job"
)

// key returns a deterministic Ed25519 identity.
func key(t testing.TB, b byte) (crypto.PrivKey, peer.ID) {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{b}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return priv, id
}

// testTask is frame f of a fixed job.
func testTask(f int) job.Task {
	return job.Task{Job: job.ManifestID([]byte("job")), Frame: f}
}

func testResult(s string) cid.Cid { return job.AssetCID(sha1.Sum([]byte(s))) }

// testReceipt is receipt 1 from publisher key 1 to volunteer key 2.
func testReceipt(t testing.TB) Receipt {
	_, pub := key(t, 1)
	_, vol := key(t, 2)
	return Receipt{Publisher: pub, Volunteer: vol, Seq: 1, Task: testTask(7), Result: testResult("r"),
		CU: 12_345, Total: 12_345, Issued: 1_795_000_000}
}

// The canonical bytes are a wire contract: volunteers and auditors of any
// version must read the same receipt.
func TestReceiptGolden(t *testing.T) {
	r := testReceipt(t)
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"publisher":"` + r.Publisher.String() + `","volunteer":"` + r.Volunteer.String() +
		`","seq":1,"task":"` + r.Task.String() + `","result":"` + r.Result.String() +
		`","cu":12345,"total":12345,"issued":1795000000}`
	if string(b) != want {
		t.Fatalf("canonical bytes\n got %s\nwant %s", b, want)
	}
	back, err := UnmarshalReceipt(b)
	if err != nil || back != r {
		t.Fatalf("UnmarshalReceipt = %+v, %v", back, err)
	}
	id, err := r.ID()
	if err != nil || id.String() != "bagaaiera5ezjf4tighhvcv2j7nnawr53gvdwnbk724tznmlgkr7rb5pgxgla" {
		t.Fatalf("ID = %s, %v", id, err)
	}
	// Ed25519 is deterministic: these pin the signing domains.
	pubKey, _ := key(t, 1)
	volKey, _ := key(t, 2)
	s, err := r.Sign(pubKey)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := s.Countersign(volKey)
	if err != nil {
		t.Fatal(err)
	}
	const (
		wantSig     = "87fbbfebd1cb2c6bc504cb13d83592fcceffa4ceda1ceeed390b04e0c063e60ea942b255e355ed133376945f980dbf375d728850c86e21a0e598b28766e2cd01"
		wantCounter = "e185c6f842ed6dfaf836b1ca455c5c4deacfc6717046e471e3e978fe217c05b66d111f42b2d2fe2eab062646ca315bef39d1e85a54c3aeedc11771ab18baee0c"
	)
	if hex.EncodeToString(cs.Signature) != wantSig || hex.EncodeToString(cs.Countersig) != wantCounter {
		t.Fatalf("signatures changed:\n sig %x\n countersig %x", cs.Signature, cs.Countersig)
	}
}

func TestReceiptValidate(t *testing.T) {
	_, other := key(t, 3)
	_, secp, err := crypto.GenerateSecp256k1Key(bytes.NewReader(bytes.Repeat([]byte{4}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	secpID, err := peer.IDFromPublicKey(secp)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Receipt)
	}{
		{"self receipt", func(r *Receipt) { r.Volunteer = r.Publisher }},
		{"no publisher", func(r *Receipt) { r.Publisher = "" }},
		{"seq 0", func(r *Receipt) { r.Seq = 0 }},
		{"seq beyond 2^53", func(r *Receipt) { r.Seq = 1 << 60 }},
		{"negative cu", func(r *Receipt) { r.CU, r.Total = -1, 0 }},
		{"total below cu", func(r *Receipt) { r.Seq, r.Total = 2, r.CU-1 }},
		{"first receipt total != cu", func(r *Receipt) { r.Total = r.CU + 1 }},
		{"total too large", func(r *Receipt) { r.Seq, r.Total = 2, MaxMilliCU+1 }},
		{"not a job", func(r *Receipt) { r.Task.Job = testResult("x") }},
		{"negative frame", func(r *Receipt) { r.Task.Frame = -1 }},
		{"tile out of range", func(r *Receipt) { r.Task.Tile = job.MaxTiles }},
		{"no result", func(r *Receipt) { r.Result = cid.Undef }},
		{"result not an asset", func(r *Receipt) { r.Result = job.ManifestID([]byte("x")) }},
		{"not issued", func(r *Receipt) { r.Issued = 0 }},
		{"issued too late", func(r *Receipt) { r.Issued = job.MaxTime + 1 }},
		{"volunteer garbage", func(r *Receipt) { r.Volunteer = peer.ID("x" + string(other)) }},
		{"volunteer not Ed25519", func(r *Receipt) { r.Volunteer = secpID }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testReceipt(t)
			tc.change(&r)
			if _, err := r.Marshal(); !errors.Is(err, ErrInvalidReceipt) {
				t.Fatalf("Marshal = %v, want ErrInvalidReceipt", err)
			}
		})
	}
}

func TestUnmarshalReceiptRejectsNonCanonical(t *testing.T) {
	b, err := testReceipt(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, tc := range []struct {
		name string
		in   string
		want error
	}{
		{"trailing newline", s + "\n", job.ErrNotCanonical},
		{"space", strings.Replace(s, `"seq":1`, `"seq": 1`, 1), job.ErrNotCanonical},
		{"reordered", strings.Replace(s, `"cu":12345,"total":12345`, `"total":12345,"cu":12345`, 1), job.ErrNotCanonical},
		{"float", strings.Replace(s, `"cu":12345`, `"cu":12345.0`, 1), job.ErrMalformed},
		{"exponent", strings.Replace(s, `"cu":12345`, `"cu":1.2345e4`, 1), job.ErrMalformed},
		{"duplicate key", strings.Replace(s, `"seq":1`, `"seq":2,"seq":1`, 1), job.ErrNotCanonical},
		{"upper-case key", strings.Replace(s, `"seq"`, `"Seq"`, 1), job.ErrNotCanonical},
		{"unknown field", strings.Replace(s, `{"v":1,`, `{"v":1,"x":0,`, 1), job.ErrMalformed},
		{"truncated", s[:len(s)-5], job.ErrTruncated},
		{"version 2", strings.Replace(s, `"v":1`, `"v":2`, 1), job.ErrUnsupportedVersion},
		{"negative seq", strings.Replace(s, `"seq":1`, `"seq":-1`, 1), ErrInvalidReceipt},
		{"escaped task", strings.Replace(s, `/7/0"`, `\/7/0"`, 1), job.ErrNotCanonical},
		{"too large", s + strings.Repeat(" ", MaxReceiptSize), job.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := UnmarshalReceipt([]byte(tc.in)); !errors.Is(err, tc.want) {
				t.Fatalf("UnmarshalReceipt(%s) = %v, want %v", tc.in, err, tc.want)
			}
		})
	}
}

func TestSignCountersignOpen(t *testing.T) {
	pubKey, _ := key(t, 1)
	volKey, _ := key(t, 2)
	r := testReceipt(t)
	s, err := r.Sign(pubKey)
	if err != nil {
		t.Fatal(err)
	}
	if s.Countersigned() {
		t.Fatal("a fresh receipt claims a countersignature")
	}
	wire, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(wire, []byte("countersig")) {
		t.Fatalf("pending receipt wire form has a countersig field: %s", wire)
	}
	got, _, err := OpenReceipt(wire)
	if err != nil || got != r {
		t.Fatalf("OpenReceipt(pending) = %+v, %v", got, err)
	}
	cs, err := s.Countersign(volKey)
	if err != nil {
		t.Fatal(err)
	}
	wire, err = cs.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, back, err := OpenReceipt(wire)
	if err != nil || got != r || !back.Countersigned() {
		t.Fatalf("OpenReceipt(countersigned) = %+v, %v", got, err)
	}
	if !back.ID().Equals(s.ID()) {
		t.Fatal("countersigning changed the receipt ID")
	}
}

// forge returns the wire form of a receipt built by change, with the
// signatures of the given keys (nil: none).
func forge(t *testing.T, change func(*Receipt), signer, countersigner crypto.PrivKey) SignedReceipt {
	t.Helper()
	r := testReceipt(t)
	change(&r)
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := SignedReceipt{Receipt: b}
	if signer != nil {
		s.Signature, _ = signer.Sign(publisherMessage(b))
	}
	if countersigner != nil {
		s.Countersig, _ = countersigner.Sign(countersignMessage(b, s.Signature))
	}
	return s
}

func TestForgedReceiptsRejected(t *testing.T) {
	pubKey, _ := key(t, 1)
	volKey, _ := key(t, 2)
	evilKey, evil := key(t, 3)
	later := func(r *Receipt) { r.Seq, r.CU, r.Total = 5, 100, 12_345 }
	honest := forge(t, later, pubKey, volKey)
	if _, err := honest.Verify(); err != nil {
		t.Fatalf("honest receipt: %v", err)
	}
	tamper := func(field, from, to string) SignedReceipt {
		s := honest
		s.Receipt = bytes.Replace(s.Receipt, []byte(field+from), []byte(field+to), 1)
		if bytes.Equal(s.Receipt, honest.Receipt) {
			t.Fatalf("tampering %s did not change the receipt", field)
		}
		return s
	}
	for _, tc := range []struct {
		name string
		s    SignedReceipt
	}{
		{"signed by a stranger", forge(t, func(*Receipt) {}, evilKey, volKey)},
		{"signed by the volunteer", forge(t, func(*Receipt) {}, volKey, volKey)},
		{"roles swapped", forge(t, func(r *Receipt) { r.Publisher, r.Volunteer = r.Volunteer, r.Publisher }, pubKey, volKey)},
		{"countersigned by a stranger", forge(t, func(*Receipt) {}, pubKey, evilKey)},
		{"countersigned by the publisher", forge(t, func(*Receipt) {}, pubKey, pubKey)},
		{"stranger named volunteer, real countersig", forge(t, func(r *Receipt) { r.Volunteer = evil }, pubKey, volKey)},
		{"cu tampered", tamper(`"cu":`, "100", "200")},
		{"total tampered", tamper(`"total":`, "12345", "99999")},
		{"seq tampered", tamper(`"seq":`, "5", "6")},
		{"no signature", forge(t, func(*Receipt) {}, nil, nil)},
		{"publisher signature in the countersignature domain", func() SignedReceipt {
			s := honest
			s.Signature, _ = pubKey.Sign(countersignMessage(s.Receipt, nil))
			return s
		}()},
		{"countersignature over the bare receipt", func() SignedReceipt {
			s := honest
			s.Countersig, _ = volKey.Sign(publisherMessage(s.Receipt))
			return s
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.s.Verify(); !errors.Is(err, job.ErrBadSignature) {
				t.Fatalf("Verify = %v, want a signature error", err)
			}
			if wire, err := tc.s.Marshal(); err == nil {
				if _, _, err := OpenReceipt(wire); err == nil {
					t.Fatal("OpenReceipt accepted a forgery")
				}
			}
		})
	}
}

func TestSignWithWrongKey(t *testing.T) {
	pubKey, _ := key(t, 1)
	volKey, _ := key(t, 2)
	r := testReceipt(t)
	if _, err := r.Sign(volKey); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Sign with the volunteer's key = %v, want ErrWrongKey", err)
	}
	s, err := r.Sign(pubKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Countersign(pubKey); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Countersign with the publisher's key = %v, want ErrWrongKey", err)
	}
	s.Signature[0] ^= 1
	if _, err := s.Countersign(volKey); !errors.Is(err, job.ErrBadSignature) {
		t.Fatalf("Countersign of a bad receipt = %v, want ErrBadSignature", err)
	}
}

// Regression guard: peers embed the wire form in their own JSON messages,
// and json.Marshal re-encodes raw messages HTML-safely.
func TestOpenReceiptEmbeddedByJSONMarshal(t *testing.T) {
	pubKey, _ := key(t, 1)
	s, err := testReceipt(t).Sign(pubKey)
	if err != nil {
		t.Fatal(err)
	}
	wire, _ := s.Marshal()
	outer, err := json.Marshal(struct{ R json.RawMessage }{wire})
	if err != nil {
		t.Fatal(err)
	}
	var back struct{ R json.RawMessage }
	if err := json.Unmarshal(outer, &back); err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenReceipt(back.R); err != nil {
		t.Fatalf("OpenReceipt after embedding: %v", err)
	}
}

func TestOpenReceiptRejectsNonCanonicalWire(t *testing.T) {
	pubKey, _ := key(t, 1)
	s, _ := testReceipt(t).Sign(pubKey)
	wire, _ := s.Marshal()
	for _, in := range []string{
		string(wire[:len(wire)-1]) + `,"countersig":""}`,
		string(wire[:len(wire)-1]) + `,"countersig":null}`,
		string(wire) + " ",
		string(wire[:len(wire)-1]) + `,"signer":"x"}`,
	} {
		if _, _, err := OpenReceipt([]byte(in)); err == nil {
			t.Errorf("OpenReceipt accepted %s", in)
		}
	}
}
