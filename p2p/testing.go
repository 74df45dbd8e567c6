package p2p

import (
	"crypto/rand"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// TestingConfig is a Config for tests: a fresh identity, TCP and QUIC on
// 127.0.0.1 with ports picked by the system, no mDNS, and the given
// bootstrap peers.
func TestingConfig(t testing.TB, bootstrap ...peer.AddrInfo) Config {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Identity: key,
		ListenAddrs: []ma.Multiaddr{
			ma.StringCast("/ip4/127.0.0.1/tcp/0"),
			ma.StringCast("/ip4/127.0.0.1/udp/0/quic-v1"),
		},
		Bootstrap: bootstrap,
	}
}

// AddrInfo is the node's own peer ID and listen addresses.
func (n *Node) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()}
}
