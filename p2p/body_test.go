package p2p

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// countingReader counts the bytes read from it.
type countingReader struct {
	r    io.Reader
	read atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// A body crosses only when the handler asks for it: a refused header costs
// the sender nothing more, an accepted body arrives whole, a short one is
// an error.
func TestCallBody(t *testing.T) {
	a := startNode(t, TestingConfig(t))
	b := startNode(t, TestingConfig(t, a.AddrInfo()))
	const proto = "/renderswarm/test-body/1"
	a.HandleBodyRPC(proto, func(_ context.Context, from peer.ID, header []byte, body *Body) ([]byte, error) {
		if string(header) == "junk" {
			return nil, errors.New("no such lease")
		}
		if body.Size() > 1<<20 {
			return nil, fmt.Errorf("%d bytes is over this lease's bound", body.Size())
		}
		r, err := body.Open()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		return []byte(fmt.Sprintf("%s %d %x", header, len(data), data[len(data)-1])), nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	payload := bytes.Repeat([]byte{1, 2, 3, 4}, 100_000)
	resp, err := b.CallBody(ctx, a.ID(), proto, []byte("result"), bytes.NewReader(payload), int64(len(payload)))
	if err != nil || string(resp) != "result 400000 4" {
		t.Fatalf("CallBody = %q, %v", resp, err)
	}
	for _, tc := range []struct {
		header string
		size   int64
		want   string
	}{
		{"junk", 1 << 20, "no such lease"},
		{"result", 1 << 30, "over this lease's bound"},
	} {
		body := &countingReader{r: bytes.NewReader(make([]byte, tc.size))}
		_, err := b.CallBody(ctx, a.ID(), proto, []byte(tc.header), body, tc.size)
		var re *RemoteError
		if !errors.As(err, &re) || !strings.Contains(re.Msg, tc.want) {
			t.Fatalf("%s: %v, want a refusal saying %q", tc.header, err, tc.want)
		}
		if n := body.read.Load(); n != 0 {
			t.Fatalf("%s: %d bytes of a refused body were sent", tc.header, n)
		}
	}
	short := io.LimitReader(bytes.NewReader(payload), 1000)
	if _, err := b.CallBody(ctx, a.ID(), proto, []byte("result"), short, int64(len(payload))); err == nil {
		t.Fatal("a body shorter than declared was accepted")
	}
}
