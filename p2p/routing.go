package p2p

import (
	"context"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Provide announces on the DHTs that this node has c. It records the
// announcement locally first, so peers whose lookups reach this node find
// it at once, even while its routing tables are empty; then it waits
// (bounded by ctx) for a peer in a routing table, since announcing needs
// one, and queues the announce (see announce), which it does not wait for.
func (n *Node) Provide(ctx context.Context, c cid.Cid) error {
	if err := n.recordProvider(ctx, c); err != nil {
		return fmt.Errorf("recording provider of %s: %w", c, err)
	}
	if err := n.WaitRouting(ctx); err != nil {
		return fmt.Errorf("providing %s: no DHT peers: %w", c, err)
	}
	if err := n.announce(c); err != nil {
		return fmt.Errorf("providing %s: %w", c, err)
	}
	return nil
}

// FindProviders streams the peers that provide c, from the LAN and WAN
// DHTs, until ctx ends or both lookups are exhausted. A node that has just
// started waits (bounded by ctx) for a peer in a routing table first:
// asking empty tables finds nothing.
func (n *Node) FindProviders(ctx context.Context, c cid.Cid) <-chan peer.AddrInfo {
	if n.RoutingTableSize() > 0 {
		return n.dht.FindProvidersAsync(ctx, c, 0)
	}
	out := make(chan peer.AddrInfo)
	go func() {
		defer close(out)
		if n.WaitRouting(ctx) != nil {
			return
		}
		for ai := range n.dht.FindProvidersAsync(ctx, c, 0) {
			select {
			case out <- ai:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// WaitRouting waits until a DHT routing table holds at least one peer.
func (n *Node) WaitRouting(ctx context.Context) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for n.RoutingTableSize() == 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// RoutingTableSize is the number of distinct peers in the DHTs' routing
// tables.
func (n *Node) RoutingTableSize() int {
	seen := map[peer.ID]struct{}{}
	for _, p := range n.dht.LAN.RoutingTable().ListPeers() {
		seen[p] = struct{}{}
	}
	for _, p := range n.dht.WAN.RoutingTable().ListPeers() {
		seen[p] = struct{}{}
	}
	return len(seen)
}
