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

// MaxRPCMessage bounds one request or response. Messages carry CIDs,
// digests and signatures, never images.
const MaxRPCMessage = 256 << 10

// rpcTimeout bounds one exchange, dial included.
const rpcTimeout = 30 * time.Second

// ErrRPCTooLarge is returned for a message over MaxRPCMessage.
var ErrRPCTooLarge = fmt.Errorf("message over %d bytes", MaxRPCMessage)

// RemoteError is an error the other side answered with.
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return "peer answered: " + e.Msg }

// Handler answers one request from a peer. A returned error is sent back as
// a RemoteError.
type Handler func(ctx context.Context, from peer.ID, req []byte) ([]byte, error)

// Status bytes leading a response.
const (
	rpcOK  = 0
	rpcErr = 1
)

// HandleRPC serves proto with h until the node closes.
func (n *Node) HandleRPC(proto protocol.ID, h Handler) {
	n.host.SetStreamHandler(proto, func(s network.Stream) {
		defer s.Close()
		s.SetDeadline(time.Now().Add(rpcTimeout))
		req, err := readFrame(s)
		if err != nil {
			s.Reset()
			n.log.Debug("rpcBadRequest", "proto", proto, "peer", s.Conn().RemotePeer(), "err", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
		defer cancel()
		resp, err := h(ctx, s.Conn().RemotePeer(), req)
		status := byte(rpcOK)
		if err != nil {
			status, resp = rpcErr, []byte(err.Error())
		}
		if err := writeResponse(s, status, resp); err != nil {
			n.log.Debug("rpcWriteFailed", "proto", proto, "err", err)
		}
	})
}

// Call sends req to p (dialled by peer ID; addresses come from the peerstore
// or the DHT) and returns its answer.
func (n *Node) Call(ctx context.Context, p peer.ID, proto protocol.ID, req []byte) ([]byte, error) {
	if len(req) > MaxRPCMessage {
		return nil, ErrRPCTooLarge
	}
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	s, done, err := n.openCall(ctx, p, proto)
	if err != nil {
		return nil, err
	}
	defer done()
	if err := writeFrame(s, req); err != nil {
		s.Reset()
		return nil, fmt.Errorf("sending to %s: %w", p, err)
	}
	s.CloseWrite()
	var status [1]byte
	if _, err := io.ReadFull(s, status[:]); err != nil {
		s.Reset()
		return nil, fmt.Errorf("reading answer from %s: %w", p, errors.Join(ctx.Err(), err))
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

// openCall opens a stream of proto to p for one exchange, bounded by ctx:
// its deadline is the stream's, and its cancellation (the node stopping)
// resets the stream at once rather than at that deadline, so a peer that
// stopped answering does not hold a stopping node. done closes it.
func (n *Node) openCall(ctx context.Context, p peer.ID, proto protocol.ID) (s network.Stream, done func(), err error) {
	if len(n.host.Peerstore().Addrs(p)) == 0 {
		// Finding p needs the DHT; a node that has just started may not
		// have a routing peer yet.
		if err := n.WaitRouting(ctx); err != nil {
			return nil, nil, fmt.Errorf("no route to %s: %w", p, err)
		}
	}
	s, err = n.routed.NewStream(ctx, p, proto)
	if err != nil {
		return nil, nil, fmt.Errorf("opening %s stream to %s: %w", proto, p, err)
	}
	if d, ok := ctx.Deadline(); ok {
		s.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	return s, func() { stop(); s.Close() }, nil
}

// writeFrame writes a length-prefixed payload.
func writeFrame(w io.Writer, payload []byte) error {
	return writeMsg(w, nil, payload)
}

// writeResponse writes a status byte and a length-prefixed payload.
func writeResponse(w io.Writer, status byte, payload []byte) error {
	return writeMsg(w, []byte{status}, payload)
}

func writeMsg(w io.Writer, head, payload []byte) error {
	if len(payload) > MaxRPCMessage {
		return ErrRPCTooLarge
	}
	buf := append(head, make([]byte, 0, 4+len(payload))...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(payload)))
	buf = append(buf, payload...)
	_, err := w.Write(buf)
	return err
}

// readFrame reads one length-prefixed payload, refusing oversized ones
// before allocating.
func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxRPCMessage {
		return nil, ErrRPCTooLarge
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, errors.Join(errors.New("truncated message"), err)
	}
	return b, nil
}
