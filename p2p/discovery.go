package p2p

import (
	"context"
	"sync"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/peer"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
	dutil "github.com/libp2p/go-libp2p/p2p/discovery/util"
)

// VolunteerNamespace is the DHT rendezvous under which every node advertises
// itself, so that a node bootstrapped from one peer finds the rest.
const VolunteerNamespace = "renderswarm/nodes/1"

type mdnsNotifee struct {
	n     *Node
	ctx   context.Context
	dials *sync.WaitGroup // Run waits for them
}

// HandlePeerFound connects to a peer seen on the LAN.
func (m *mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	if ai.ID == m.n.host.ID() {
		return
	}
	m.dials.Add(1)
	go func() {
		defer m.dials.Done()
		ctx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
		defer cancel()
		if err := m.n.host.Connect(ctx, ai); err != nil {
			m.n.log.Debug("mdnsDialFailed", "peer", ai.ID, "err", err)
			return
		}
		m.n.log.Info("peerFoundOnLAN", "peer", ai.ID)
	}()
}

// discoverVolunteers advertises this node under VolunteerNamespace and
// connects to the others it finds there, every minute until ctx ends.
func discoverVolunteers(ctx context.Context, n *Node) {
	disc := drouting.NewRoutingDiscovery(contentRouting{n})
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n.RoutingTableSize() > 0 {
			dutil.Advertise(ctx, disc, VolunteerNamespace)
			fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			peers, err := dutil.FindPeers(fctx, disc, VolunteerNamespace)
			cancel()
			if err == nil {
				for _, ai := range peers {
					if ai.ID != n.host.ID() && len(n.host.Network().ConnsToPeer(ai.ID)) == 0 && len(ai.Addrs) > 0 {
						cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
						n.host.Connect(cctx, ai)
						cancel()
					}
				}
			}
			t.Reset(time.Minute)
		} else {
			t.Reset(2 * time.Second)
		}
	}
}

// relayCandidates offers the WAN DHT's peers (those with a public address)
// as relay candidates for AutoRelay; only peers that run the relay service
// will be used.
func relayCandidates(ctx context.Context, kad *dht.IpfsDHT, n int) <-chan peer.AddrInfo {
	ch := make(chan peer.AddrInfo, n)
	defer close(ch)
	if kad == nil {
		return ch
	}
	for _, id := range kad.RoutingTable().ListPeers() {
		if len(ch) == n {
			break
		}
		ai := kad.Host().Peerstore().PeerInfo(id)
		if len(ai.Addrs) > 0 {
			ch <- ai
		}
	}
	return ch
}
