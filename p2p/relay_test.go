package p2p

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"
)

// newNode builds a node without running it: no bootstrap, no discovery,
// so it connects to nothing by itself.
func newNode(t *testing.T) *Node {
	t.Helper()
	n, err := New(TestingConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// hopProtocol is what a relay serves.
const hopProtocol = protocol.ID("/libp2p/circuit/relay/0.2.0/hop")

// The work protocol crosses a limited relayed connection, which libp2p
// refuses to open streams on by default; the relay's limits mark it as
// limited, and Peers reports the peer as relayed.
func TestWorkProtocolOverLimitedRelay(t *testing.T) {
	relay, a, b := newNode(t), newNode(t), newNode(t)
	rs := &relayService{h: relay.host, log: relay.log}
	rs.set(true)
	t.Cleanup(func() { rs.set(false) })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.host.Connect(ctx, relay.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Reserve(ctx, b.host, relay.AddrInfo()); err != nil {
		t.Fatalf("reserving a slot on the relay: %v", err)
	}
	b.HandleRPC(WorkProtocol, func(_ context.Context, from peer.ID, req []byte) ([]byte, error) {
		return append([]byte("lease for "), req...), nil
	})
	circuit := ma.StringCast("/p2p/" + relay.ID().String() + "/p2p-circuit")
	for _, ra := range relay.host.Addrs() {
		a.host.Peerstore().AddAddr(b.ID(), ra.Encapsulate(circuit), peerstore.TempAddrTTL)
	}
	a.host.Peerstore().AddAddrs(relay.ID(), relay.host.Addrs(), peerstore.TempAddrTTL)

	resp, err := a.Call(ctx, b.ID(), WorkProtocol, []byte("frame 1"))
	if err != nil {
		t.Fatalf("work request over the relay: %v", err)
	}
	if string(resp) != "lease for frame 1" {
		t.Fatalf("answer %q", resp)
	}
	conns := a.host.Network().ConnsToPeer(b.ID())
	if len(conns) == 0 {
		t.Fatal("no connection to b")
	}
	for _, c := range conns {
		if !c.Stat().Limited {
			t.Fatalf("connection %s to b is not limited: the test did not cross the relay", c.RemoteMultiaddr())
		}
	}
	if ps := a.Peers(); !slices.ContainsFunc(ps, func(p PeerInfo) bool { return p.ID == b.ID() && p.Relayed }) {
		t.Errorf("Peers does not report b as relayed: %+v", ps)
	}
	// What relayedStreams is for: a plain stream waits for a direct
	// connection, which never comes here.
	sctx, scancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer scancel()
	if s, err := a.host.NewStream(sctx, b.ID(), WorkProtocol); err == nil {
		s.Reset()
		t.Fatal("a plain stream opened over a limited connection")
	} else if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, network.ErrLimitedConn) {
		t.Logf("plain stream refused: %v", err)
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
