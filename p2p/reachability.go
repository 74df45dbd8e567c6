package p2p

import (
	"context"
	"slices"
	"strings"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	manet "github.com/multiformats/go-multiaddr/net"
)

// Reachability is what AutoNAT has concluded about this node: "public"
// (others can dial it: AutoNAT v1 says so, or AutoNAT v2 confirmed one of
// its public addresses), "private" (behind NAT; relays and hole punching
// help) or "unknown" (not enough evidence yet, or on a LAN or loopback
// only, where AutoNAT has nothing to test).
func (n *Node) Reachability() string {
	switch {
	case network.Reachability(n.reach.Load()) == network.ReachabilityPublic || n.confirmed.Load():
		return "public"
	case network.Reachability(n.reach.Load()) == network.ReachabilityPrivate:
		return "private"
	default:
		return "unknown"
	}
}

// RelayAddrs are the node's own addresses that go through a relay.
func (n *Node) RelayAddrs() []string {
	var out []string
	for _, a := range n.host.Addrs() {
		if s := a.String(); strings.Contains(s, "/p2p-circuit") {
			out = append(out, s)
		}
	}
	return out
}

// watchNetwork follows AutoNAT's verdicts and the node's addresses until
// ctx ends: it logs what changed, and runs the relay service while the
// node is reachable.
func (n *Node) watchNetwork(ctx context.Context) {
	sub, err := n.host.EventBus().Subscribe([]any{
		new(event.EvtLocalReachabilityChanged),
		new(event.EvtHostReachableAddrsChanged),
		new(event.EvtLocalAddressesUpdated),
	})
	if err != nil {
		n.log.Warn("reachabilityUnavailable", "err", err)
		return
	}
	defer sub.Close()
	relay := &relayService{h: n.host, log: n.log}
	defer relay.set(false)
	var relays []string
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.Out():
			if !ok {
				return
			}
			switch e := e.(type) {
			case event.EvtLocalReachabilityChanged:
				n.reach.Store(int32(e.Reachability))
				n.log.Info("reachabilityChanged", "autonat", e.Reachability.String(), "reachability", n.Reachability())
			case event.EvtHostReachableAddrsChanged:
				public := slices.ContainsFunc(e.Reachable, manet.IsPublicAddr)
				if n.confirmed.Swap(public) != public {
					n.log.Info("reachabilityChanged", "confirmedAddrs", e.Reachable, "reachability", n.Reachability())
				}
				n.log.Debug("addrsReachability", "reachable", e.Reachable, "unreachable", e.Unreachable, "unknown", e.Unknown)
			case event.EvtLocalAddressesUpdated:
				if now := n.RelayAddrs(); !slices.Equal(now, relays) {
					relays = now
					n.log.Info("relayAddrsChanged", "relayAddrs", relays)
				}
			}
			relay.set(n.Reachability() == "public")
		}
	}
}
