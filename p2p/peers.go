package p2p

import (
	"sort"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// PeerInfo describes a connected peer.
type PeerInfo struct {
	ID      peer.ID
	Addrs   []string // remote addresses of the open connections
	Agent   string
	Latency time.Duration
	Relayed bool // every connection goes through a relay
}

// Peers lists the connected peers, sorted by peer ID.
func (n *Node) Peers() []PeerInfo {
	var out []PeerInfo
	ps := n.host.Peerstore()
	for _, id := range n.host.Network().Peers() {
		pi := PeerInfo{ID: id, Latency: ps.LatencyEWMA(id), Relayed: true}
		if v, err := ps.Get(id, "AgentVersion"); err == nil {
			pi.Agent, _ = v.(string)
		}
		for _, c := range n.host.Network().ConnsToPeer(id) {
			pi.Addrs = append(pi.Addrs, c.RemoteMultiaddr().String())
			if !c.Stat().Limited {
				pi.Relayed = false
			}
		}
		out = append(out, pi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// RemoteAddrs are the remote addresses of the open connections to p, as
// observed on them.
func (n *Node) RemoteAddrs(p peer.ID) []ma.Multiaddr {
	conns := n.host.Network().ConnsToPeer(p)
	out := make([]ma.Multiaddr, 0, len(conns))
	for _, c := range conns {
		out = append(out, c.RemoteMultiaddr())
	}
	return out
}
