package p2p

import (
	"context"
	"log/slog"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	ma "github.com/multiformats/go-multiaddr"
)

// relayedStreams is a host whose streams may run over a limited (relayed)
// connection when no direct one exists. libp2p refuses that by default,
// waiting for hole punching instead, which never succeeds through a
// symmetric NAT. renderswarm's own streams (the work protocol, BitTorrent)
// take the relay: the relay ends a connection at its limits, the next
// stream opens a new one, and once hole punching gives a direct connection
// new streams use it. libp2p's protocols (DHT, GossipSub) still keep off
// relays.
type relayedStreams struct{ host.Host }

func (h relayedStreams) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	return h.Host.NewStream(network.WithAllowLimitedConn(ctx, "renderswarm"), p, pids...)
}

// holePunchLog logs the outcome of hole punching, per attempt.
type holePunchLog struct{ log *slog.Logger }

var _ holepunch.EventTracer = holePunchLog{}

func (l holePunchLog) Trace(e *holepunch.Event) {
	switch ev := e.Evt.(type) {
	case *holepunch.EndHolePunchEvt:
		if ev.Success {
			l.log.Info("holePunched", "peer", e.Remote, "elapsed", ev.EllapsedTime)
		} else {
			l.log.Debug("holePunchAttemptFailed", "peer", e.Remote, "elapsed", ev.EllapsedTime, "err", ev.Error)
		}
	case *holepunch.DirectDialEvt:
		l.log.Debug("holePunchDirectDial", "peer", e.Remote, "success", ev.Success, "err", ev.Error)
	case *holepunch.ProtocolErrorEvt:
		l.log.Debug("holePunchProtocolError", "peer", e.Remote, "err", ev.Error)
	}
}

// connLog logs every connection opened, and whether it is relayed.
type connLog struct{ log *slog.Logger }

var _ network.Notifiee = connLog{}

func (l connLog) Connected(_ network.Network, c network.Conn) {
	l.log.Debug("peerConnected", "peer", c.RemotePeer(), "addr", c.RemoteMultiaddr(),
		"direction", c.Stat().Direction.String(), "relayed", c.Stat().Limited)
}

func (connLog) Disconnected(network.Network, network.Conn) {}
func (connLog) Listen(network.Network, ma.Multiaddr)       {}
func (connLog) ListenClose(network.Network, ma.Multiaddr)  {}
