// Package p2p owns renderswarm's networking: the libp2p host (TCP and QUIC on
// one port, the node's only network endpoint), the private Kademlia DHT,
// GossipSub topics, mDNS discovery and NAT traversal options.
//
// It is the only package that constructs go-libp2p, kad-dht or pubsub
// objects; others receive small interfaces (content routing for assets, a
// topic to publish on) from the node. It must not import node, cmd, gui,
// assets, render, scheduler or credits.
//
// Decisions, measured on the pinned versions:
//   - The DHT speaks its own protocol prefix (/renderswarm), runs in server
//     mode by default (a private swarm is small; every reachable node should
//     answer) and is bootstrapped only from our own peers.
//   - GossipSub uses an outbound queue of 512 and a validation queue of 1024:
//     with the defaults a burst of 2,000 messages reached only 25-44 % of
//     subscribers. Topic.Publish drops oversized messages silently, so Publish
//     checks the size first and returns ErrMessageTooLarge.
//   - The resource manager's per-IP connection cap is raised from 8 to 64 (a
//     household or campus NAT has many volunteers behind one address).
//   - A pre-shared swarm key turns the host into a libp2p private network;
//     QUIC cannot carry one, so such a host listens on TCP only.
//   - A host that listens only on loopback starts no mDNS and no UPnP port
//     mapping: there is nothing to discover or map, and it sends nothing past
//     the loopback interface.
package p2p
