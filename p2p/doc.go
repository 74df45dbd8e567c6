// Package p2p owns renderswarm's networking: the libp2p host (TCP and QUIC on
// one port, the node's only network endpoint), the private Kademlia DHTs,
// GossipSub topics, mDNS discovery and NAT traversal.
//
// It is the only package that constructs go-libp2p, kad-dht or pubsub
// objects; others receive small interfaces (content routing for assets, a
// topic to publish on) from the node. It must not import node, cmd, gui,
// assets, render, scheduler or credits.
//
// Decisions, measured on the pinned versions:
//   - Two DHTs, as Kubo runs them, both with their own protocol prefix
//     (/renderswarm) and bootstrapped only from our own peers. The WAN DHT
//     holds peers with a public address and passes on only public
//     addresses (a home's 192.168.1.x means another machine in every other
//     home); it serves unless AutoNAT finds the node unreachable, so nodes
//     behind NAT, reachable only through relays, stay out of everyone's
//     routing table. The LAN DHT (/renderswarm/lan) holds the peers reached
//     over a non-public address and always serves: nodes on one LAN, or a
//     LAN cut off from the internet, find each other's assets whatever
//     AutoNAT says. Provide records locally, then announces on both in the
//     background: for half a minute after a link goes down, lookups wait
//     for timeouts (20 s measured, even on the LAN DHT), and announcing
//     inline made the asset store's announces fall that far behind. A WAN
//     lookup runs only while a WAN server is connected, for at most 10 s.
//   - NAT (measured in network namespaces: test/nat_e2e_test.go). Every node
//     runs the AutoNAT v1 service: without one in the swarm no node ever
//     learnt whether it was reachable, so no relay ran and nothing behind
//     NAT was reachable. A node behind NAT learns it is private about 15 s
//     after it connects to a public peer (the service waits out its dial
//     timeout) and holds a relay reservation 18-20 s after it starts. The relay
//     service runs while AutoNAT v1 or v2 finds the node public (v2 alone
//     confirms a swarm's only public node). AutoRelay reserves with the
//     first relay it finds. Hole punching joined two cone NATs in 5-80 ms;
//     through a symmetric NAT it never succeeds and the connection stays
//     relayed.
//   - Relays keep go-libp2p's limits (128 KiB each way, 2 minutes per
//     relayed connection). Our own streams (the work protocol, BitTorrent)
//     may run over such a limited connection (RoutedHost, Call): work
//     messages are a few KiB, and a volunteer behind a symmetric NAT has no
//     other path. An asset larger than the limit crosses in several relayed
//     connections, each cut by the relay at 128 KiB; the torrent resumes on
//     the next after its stall timeout, about 10 s, so a relay moves assets
//     at 6-10 KiB/s (192 KiB in 21-31 s measured). DHT and GossipSub
//     streams keep off relays.
//   - GossipSub uses an outbound queue of 512 and a validation queue of 1024:
//     with the defaults a burst of 2,000 messages reached only 25-44 % of
//     subscribers. Topic.Publish drops oversized messages silently, so Publish
//     checks the size first and returns ErrMessageTooLarge. Every node
//     forwards the topics it joined, subscribed or not: a bootstrap node or a
//     publisher that renders nothing is often the only direct link between
//     peers behind NAT. Own messages are flood-published (a forwarding node
//     is in the topic's mesh, which GossipSub fills only at its next
//     heartbeat).
//   - The resource manager's per-IP connection cap is raised from 8 to 64,
//     and its per-IP rate of new connections from 0.2/s (burst 16) to 1/s
//     (burst 64): a household or campus NAT has many volunteers behind one
//     address, and every relayed connection counts against the relay's.
//   - A pre-shared swarm key turns the host into a libp2p private network;
//     QUIC cannot carry one, so such a host listens on TCP only.
//   - A host that listens only on loopback starts no mDNS and no UPnP port
//     mapping: there is nothing to discover or map, and it sends nothing past
//     the loopback interface.
package p2p
