package p2p

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
)

// hopProtocol is what a relay serves.
const hopProtocol = protocol.ID("/libp2p/circuit/relay/0.2.0/hop")

// streamSpy is a host that records the context of NewStream.
type streamSpy struct {
	host.Host
	ctx context.Context
}

func (s *streamSpy) NewStream(ctx context.Context, _ peer.ID, _ ...protocol.ID) (network.Stream, error) {
	s.ctx = ctx
	return nil, errors.New("spy")
}

// renderswarm's streams may use a limited (relayed) connection; libp2p
// refuses that unless the context allows it, waiting for a direct
// connection that a symmetric NAT never allows. (That the work then
// crosses a real relay is shown by test/nat_e2e_test.go.)
func TestRoutedStreamsMayUseRelays(t *testing.T) {
	spy := &streamSpy{}
	relayedStreams{spy}.NewStream(context.Background(), "peer", protocol.ID(testTopic))
	if ok, _ := network.GetAllowLimitedConn(spy.ctx); !ok {
		t.Fatal("a renderswarm stream may not use a limited connection")
	}
}

// The relay service runs while AutoNAT v2 confirms a public address (a
// lone public bootstrap gets no AutoNAT v1 verdict), and stops when none
// is confirmed.
func TestRelayServiceFollowsReachability(t *testing.T) {
	n := startNode(t, TestingConfig(t))
	em, err := n.host.EventBus().Emitter(new(event.EvtHostReachableAddrsChanged))
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	serving := func() bool { return slices.Contains(n.host.Mux().Protocols(), hopProtocol) }
	if serving() {
		t.Fatal("relay service runs before the node is known to be reachable")
	}
	public := ma.StringCast("/ip4/1.2.3.4/tcp/27491")
	// watchNetwork subscribes in Run; emit until it has heard.
	waitFor(t, "relay service to start", 10*time.Second, func() bool {
		em.Emit(event.EvtHostReachableAddrsChanged{Reachable: []ma.Multiaddr{public}})
		return serving()
	})
	if got := n.Reachability(); got != "public" {
		t.Errorf("Reachability() = %q with a confirmed public address", got)
	}
	em.Emit(event.EvtHostReachableAddrsChanged{Unreachable: []ma.Multiaddr{public}})
	waitFor(t, "relay service to stop", 10*time.Second, func() bool { return !serving() })
}

// On loopback (or a LAN) every peer is in the LAN DHT and none in the WAN
// DHT, which holds only peers with public addresses.
func TestLoopbackPeersAreLANPeers(t *testing.T) {
	a := startNode(t, TestingConfig(t))
	b := startNode(t, TestingConfig(t, a.AddrInfo()))
	waitFor(t, "a in b's LAN routing table", 15*time.Second, func() bool {
		return slices.Contains(b.dht.LAN.RoutingTable().ListPeers(), a.ID())
	})
	if n := b.dht.WAN.RoutingTable().Size(); n != 0 {
		t.Errorf("WAN routing table holds %d loopback peers", n)
	}
	if got := b.Reachability(); got != "unknown" {
		t.Errorf("Reachability() = %q on loopback", got)
	}
}
