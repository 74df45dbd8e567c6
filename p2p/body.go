package p2p

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Requests with a body: a small header frame, then — only once the
// handler has looked at the header and asked for it — a body of declared
// length. The handler refuses before a byte of the body crosses the
// network (the sender of junk pays nothing but a header), and bounds what
// it reads by the length it accepts.
//
// Wire: the caller writes frame(header) and the body length as a uint64;
// the handler answers rpcContinue, or a final status and frame; after
// rpcContinue the caller writes the body and the handler answers with the
// final status and frame.

// rpcContinue asks the caller for the body.
const rpcContinue = 2

// MinBodyRate is the slowest a body may arrive: its deadline grows with
// its length at this rate, on top of the exchange's own timeout.
const MinBodyRate = 64 << 10 // bytes per second

// Body is a request's body, not yet transferred.
type Body struct {
	n      int64 // the length the caller declared
	s      network.Stream
	opened bool
}

// Size is the body's length as the caller declared it.
func (b *Body) Size() int64 { return b.n }

// Open asks the caller for the body and returns it as a reader of exactly
// Size bytes (io.ErrUnexpectedEOF if the caller sends fewer).
func (b *Body) Open() (io.Reader, error) {
	if b.opened {
		return nil, errors.New("body opened twice")
	}
	b.opened = true
	b.s.SetDeadline(time.Now().Add(rpcTimeout + BodyTime(b.n)))
	if _, err := b.s.Write([]byte{rpcContinue}); err != nil {
		return nil, err
	}
	return &exactReader{r: io.LimitReader(b.s, b.n), left: b.n}, nil
}

// exactReader reports a short body as io.ErrUnexpectedEOF.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// BodyHandler answers a request with a body; it calls body.Open only if
// it wants the body. A returned error is sent back as a RemoteError.
type BodyHandler func(ctx context.Context, from peer.ID, header []byte, body *Body) ([]byte, error)

// BodyTime is how long a body of n bytes may take at MinBodyRate.
func BodyTime(n int64) time.Duration {
	return time.Duration(n/MinBodyRate+1) * time.Second
}

// HandleBodyRPC serves proto with h until the node closes.
func (n *Node) HandleBodyRPC(proto protocol.ID, h BodyHandler) {
	n.host.SetStreamHandler(proto, func(s network.Stream) {
		defer s.Close()
		s.SetDeadline(time.Now().Add(rpcTimeout))
		header, err := readFrame(s)
		var size [8]byte
		if err == nil {
			_, err = io.ReadFull(s, size[:])
		}
		if err != nil {
			s.Reset()
			n.log.Debug("rpcBadRequest", "proto", proto, "peer", s.Conn().RemotePeer(), "err", err)
			return
		}
		body := &Body{n: int64(min(binary.BigEndian.Uint64(size[:]), 1<<62)), s: s}
		ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout+BodyTime(body.n))
		defer cancel()
		resp, err := h(ctx, s.Conn().RemotePeer(), header, body)
		status := byte(rpcOK)
		if err != nil {
			status, resp = rpcErr, []byte(err.Error())
		}
		if err := writeResponse(s, status, resp); err != nil {
			n.log.Debug("rpcWriteFailed", "proto", proto, "err", err)
		}
	})
}

// CallBody sends header to p and, if p asks for it, the n bytes of body;
// it returns p's answer.
func (n *Node) CallBody(ctx context.Context, p peer.ID, proto protocol.ID, header []byte, body io.Reader, size int64) ([]byte, error) {
	if len(header) > MaxRPCMessage {
		return nil, ErrRPCTooLarge
	}
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout+BodyTime(size))
	defer cancel()
	s, done, err := n.openCall(ctx, p, proto)
	if err != nil {
		return nil, err
	}
	defer done()
	msg := binary.BigEndian.AppendUint32(nil, uint32(len(header)))
	msg = append(msg, header...)
	msg = binary.BigEndian.AppendUint64(msg, uint64(size))
	if _, err := s.Write(msg); err != nil {
		s.Reset()
		return nil, fmt.Errorf("sending to %s: %w", p, err)
	}
	var status [1]byte
	if _, err := io.ReadFull(s, status[:]); err != nil {
		s.Reset()
		return nil, fmt.Errorf("reading answer from %s: %w", p, err)
	}
	if status[0] == rpcContinue {
		if _, err := io.CopyN(s, body, size); err != nil {
			s.Reset()
			return nil, fmt.Errorf("sending body to %s: %w", p, err)
		}
		s.CloseWrite()
		if _, err := io.ReadFull(s, status[:]); err != nil {
			s.Reset()
			return nil, fmt.Errorf("reading answer from %s: %w", p, err)
		}
	} else {
		s.CloseWrite()
	}
	resp, err := readFrame(s)
	if err != nil {
		s.Reset()
		return nil, fmt.Errorf("reading answer from %s: %w", p, err)
	}
	if status[0] == rpcErr {
		return nil, &RemoteError{Msg: string(resp)}
	}
	return resp, nil
}
