package assets

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"testing/iotest"

	"github.com/anacrolix/torrent/bencode"
)

func btMsg(id byte, payload []byte) []byte {
	b := make([]byte, 4, 5+len(payload))
	binary.BigEndian.PutUint32(b, uint32(1+len(payload)))
	return append(append(b, id), payload...)
}

func btHandshake() []byte {
	h := append([]byte{btProtocolLen}, "BitTorrent protocol"...)
	return append(h, make([]byte, 48)...)
}

func extHandshake(t testing.TB, reqq int) []byte {
	d := map[string]any{"m": map[string]any{"ut_metadata": 1}, "v": "x", "metadata_size": 1234}
	if reqq != 0 {
		d["reqq"] = reqq
	}
	b, err := bencode.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return btMsg(btExtended, append([]byte{extHandshakeID}, b...))
}

func readAllCapped(t testing.TB, in []byte, oneByte bool) []byte {
	var r io.Reader = bytes.NewReader(in)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	out, err := io.ReadAll(&reqqReader{r: r, max: 128, left: btHandshakeLen})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReqqCapRewritesOnlyTheExtendedHandshake(t *testing.T) {
	have := btMsg(4, []byte{0, 0, 0, 7})
	piece := btMsg(7, make([]byte, 8+16384))
	for _, oneByte := range []bool{false, true} {
		in := bytes.Join([][]byte{btHandshake(), btMsg(5, []byte{0xff}), extHandshake(t, 1024), have, piece}, nil)
		want := bytes.Join([][]byte{btHandshake(), btMsg(5, []byte{0xff}), extHandshake(t, 128), have, piece}, nil)
		if got := readAllCapped(t, in, oneByte); !bytes.Equal(got, want) {
			t.Fatalf("oneByte=%v: stream not rewritten as expected (%d bytes, want %d)", oneByte, len(got), len(want))
		}
		small := bytes.Join([][]byte{btHandshake(), extHandshake(t, 50), have}, nil)
		if got := readAllCapped(t, small, oneByte); !bytes.Equal(got, small) {
			t.Fatal("a reqq under the cap was changed")
		}
		obfuscated := append([]byte{0x42}, bytes.Repeat([]byte{1}, 300)...)
		if got := readAllCapped(t, obfuscated, oneByte); !bytes.Equal(got, obfuscated) {
			t.Fatal("a non-BitTorrent stream was changed")
		}
	}
}

// FuzzReqqReader feeds arbitrary peer streams through the reqq rewriter: it
// must never fail or lose bytes on its own, must pass through anything that
// is not an extended handshake unchanged, and must leave a stream whose
// extended handshake announces reqq <= the cap.
func FuzzReqqReader(f *testing.F) {
	f.Add(bytes.Join([][]byte{btHandshake(), extHandshake(f, 1024)}, nil))
	f.Add(bytes.Join([][]byte{btHandshake(), btMsg(5, []byte{1}), extHandshake(f, 0), btMsg(4, []byte{0, 0, 0, 1})}, nil))
	f.Add(bytes.Join([][]byte{btHandshake(), btMsg(btExtended, []byte{0, 'x'})}, nil))
	f.Add([]byte{19, 1, 2})
	f.Fuzz(func(t *testing.T, in []byte) {
		out := readAllCapped(t, in, false)
		if !bytes.Equal(readAllCapped(t, in, true), out) {
			t.Fatal("output depends on read sizes")
		}
		if bytes.Equal(in, out) {
			return
		}
		// Changed: the handshake and the messages before the rewritten one
		// are intact, and the rewritten dictionary says reqq <= 128.
		if len(in) < btHandshakeLen || !bytes.Equal(in[:btHandshakeLen], out[:btHandshakeLen]) {
			t.Fatal("handshake changed")
		}
		rest := out[btHandshakeLen:]
		for len(rest) >= 4 {
			n := int(binary.BigEndian.Uint32(rest))
			if n > len(rest)-4 {
				t.Fatal("rewritten stream has a truncated message before the handshake")
			}
			msg := rest[4 : 4+n]
			rest = rest[4+n:]
			if n >= 2 && msg[0] == btExtended && msg[1] == extHandshakeID {
				var d map[string]any
				if err := bencode.Unmarshal(msg[2:], &d); err != nil {
					t.Fatalf("rewritten handshake does not decode: %v", err)
				}
				if v, ok := d["reqq"].(int64); !ok || v <= 0 || v > 128 {
					t.Fatalf("rewritten reqq = %v", d["reqq"])
				}
				if !bytes.HasSuffix(in, rest) {
					t.Fatal("bytes after the handshake changed")
				}
				return
			}
		}
		t.Fatal("stream changed but no extended handshake found")
	})
}
