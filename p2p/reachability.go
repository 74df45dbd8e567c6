package p2p

import (
	"context"
	"strings"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
)

// Reachability is what AutoNAT has concluded about this node: "public"
// (others can dial it), "private" (behind NAT; relays and hole punching
// help) or "unknown" (not enough evidence yet, or on loopback only).
func (n *Node) Reachability() string {
	switch network.Reachability(n.reach.Load()) {
	case network.ReachabilityPublic:
		return "public"
	case network.ReachabilityPrivate:
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

// watchReachability follows AutoNAT's verdicts until ctx ends.
func (n *Node) watchReachability(ctx context.Context) {
	sub, err := n.host.EventBus().Subscribe(new(event.EvtLocalReachabilityChanged))
	if err != nil {
		n.log.Debug("reachabilityUnavailable", "err", err)
		return
	}
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.Out():
			if !ok {
				return
			}
			n.reach.Store(int32(e.(event.EvtLocalReachabilityChanged).Reachability))
		}
	}
}
