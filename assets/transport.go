package assets

import (
	"context"
	"fmt"
	"net"

	"github.com/anacrolix/torrent"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/net/gostream"
)

// ProtocolID is the libp2p protocol that carries the BitTorrent wire protocol.
const ProtocolID protocol.ID = "/renderswarm/bittorrent/1"

// streamDialer dials torrent peers, whose addresses are libp2p peer IDs, over
// libp2p streams.
type streamDialer struct{ h host.Host }

var _ torrent.Dialer = streamDialer{}

func (d streamDialer) Dial(ctx context.Context, addr string) (net.Conn, error) {
	id, err := peer.Decode(addr)
	if err != nil {
		return nil, fmt.Errorf("torrent peer address %q is not a peer ID: %w", addr, err)
	}
	if id == d.h.ID() {
		return nil, fmt.Errorf("refusing to dial self")
	}
	c, err := gostream.Dial(ctx, d.h, id, ProtocolID)
	if err != nil {
		return nil, fmt.Errorf("dialing %s: %w", id, err)
	}
	return c, nil
}

func (streamDialer) DialerNetwork() string { return gostream.Network }

// peerInfo is how a provider becomes a torrent peer.
func peerInfo(id peer.ID) torrent.PeerInfo {
	return torrent.PeerInfo{Addr: torrent.StringAddr(id.String()), Source: torrent.PeerSourceDirect}
}
