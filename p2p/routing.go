package p2p

import (
	"context"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Provide announces on the DHT that this node has c. It records the
// announcement locally first, so peers that ask this node directly find it
// even while its routing table is empty; the network part waits (bounded by
// ctx) for a peer in the routing table, since Provide needs one.
func (n *Node) Provide(ctx context.Context, c cid.Cid) error {
	if err := n.dht.Provide(ctx, c, false); err != nil {
		return fmt.Errorf("recording provider of %s: %w", c, err)
	}
	if err := n.WaitRouting(ctx); err != nil {
		return fmt.Errorf("providing %s: no DHT peers: %w", c, err)
	}
	if err := n.dht.Provide(ctx, c, true); err != nil {
		return fmt.Errorf("providing %s: %w", c, err)
	}
	return nil
}

// FindProviders streams the peers that provide c, until ctx ends or the
// lookup is exhausted. A node that has just started waits (bounded by ctx)
// for a peer in its routing table first: asking an empty table finds nothing.
func (n *Node) FindProviders(ctx context.Context, c cid.Cid) <-chan peer.AddrInfo {
	if n.dht.RoutingTable().Size() > 0 {
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

// WaitRouting waits until the DHT's routing table holds at least one peer.
func (n *Node) WaitRouting(ctx context.Context) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for n.dht.RoutingTable().Size() == 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// RoutingTableSize is the number of peers in the DHT's routing table.
func (n *Node) RoutingTableSize() int { return n.dht.RoutingTable().Size() }
