package assets

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/net/gostream"
)

// ProtocolID is the libp2p protocol that carries the BitTorrent wire protocol.
const ProtocolID protocol.ID = "/renderswarm/bittorrent/1"

// Torrent peers are libp2p peers. anacrolix, however, assumes IP:port peer
// addresses in places (banning a peer that sent bad data parses one and
// panics without it), so each peer ID gets a stand-in address: an IPv6
// address in fd72:7377::/32 derived from the peer ID, port 1. The addrBook
// maps it back when dialing; banning that address bans that identity.
type addrBook struct {
	mu   sync.Mutex
	byIP map[netip.Addr]peer.ID
}

func newAddrBook() *addrBook { return &addrBook{byIP: make(map[netip.Addr]peer.ID)} }

func (b *addrBook) addr(id peer.ID) peerAddr {
	sum := sha256.Sum256([]byte(id))
	var ip [16]byte
	ip[0], ip[1], ip[2], ip[3] = 0xfd, 0x72, 0x73, 0x77
	copy(ip[4:], sum[:12])
	a := netip.AddrFrom16(ip)
	b.mu.Lock()
	b.byIP[a] = id
	b.mu.Unlock()
	return peerAddr{netip.AddrPortFrom(a, 1)}
}

func (b *addrBook) lookup(addr string) (peer.ID, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return "", fmt.Errorf("torrent peer address %q: %w", addr, err)
	}
	b.mu.Lock()
	id, ok := b.byIP[ap.Addr()]
	b.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("torrent peer address %q names no known peer", addr)
	}
	return id, nil
}

func (b *addrBook) peerInfo(id peer.ID) torrent.PeerInfo {
	return torrent.PeerInfo{Addr: b.addr(id), Source: torrent.PeerSourceDirect}
}

// peerAddr is a peer's stand-in address.
type peerAddr struct{ ap netip.AddrPort }

func (a peerAddr) Network() string          { return gostream.Network }
func (a peerAddr) String() string           { return a.ap.String() }
func (a peerAddr) AddrPort() netip.AddrPort { return a.ap }

// peerConn is a libp2p stream presented with the peer's stand-in address.
type peerConn struct {
	net.Conn
	remote peerAddr
}

func (c peerConn) RemoteAddr() net.Addr { return c.remote }

// streamDialer dials torrent peers over libp2p streams.
type streamDialer struct {
	h    host.Host
	book *addrBook
	reqq int
}

var _ torrent.Dialer = streamDialer{}

func (d streamDialer) Dial(ctx context.Context, addr string) (net.Conn, error) {
	id, err := d.book.lookup(addr)
	if err != nil {
		return nil, err
	}
	if id == d.h.ID() {
		return nil, fmt.Errorf("refusing to dial self")
	}
	c, err := gostream.Dial(ctx, d.h, id, ProtocolID)
	if err != nil {
		return nil, fmt.Errorf("dialing %s: %w", id, err)
	}
	return withReqqCap(peerConn{c, d.book.addr(id)}, d.reqq), nil
}

func (streamDialer) DialerNetwork() string { return gostream.Network }

// streamListener accepts torrent peers' libp2p streams.
type streamListener struct {
	net.Listener
	book *addrBook
	reqq int
	warm func(metainfo.Hash) // opens the asset a handshake names (open.go)
}

var _ torrent.Listener = streamListener{}

func (l streamListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		id, err := peer.Decode(c.RemoteAddr().String())
		if err != nil {
			c.Close() // gostream always gives a peer ID; never expected
			continue
		}
		return withReqqCap(peerConn{newWarmConn(c, l.warm), l.book.addr(id)}, l.reqq), nil
	}
}
