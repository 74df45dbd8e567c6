package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	routedhost "github.com/libp2p/go-libp2p/p2p/host/routed"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/x/rate"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// ProtocolPrefix is the DHT protocol prefix that keeps renderswarm's DHT
// apart from the public IPFS one.
const ProtocolPrefix = "/renderswarm"

// MDNSService is the service name renderswarm nodes advertise on the LAN.
const MDNSService = "_renderswarm._udp"

// DefaultPort is the TCP and UDP port a node listens on when not told.
const DefaultPort = 27491

// Config configures a Node. Zero values are documented per field.
type Config struct {
	// Identity is the node's key; required. Its peer ID is the node's
	// identity for leases, receipts and credits.
	Identity crypto.PrivKey
	// ListenAddrs; nil means TCP and QUIC on DefaultPort, all interfaces.
	ListenAddrs []ma.Multiaddr
	// Bootstrap peers to connect to and to keep connected while few peers
	// are known. Each needs a /p2p/ component.
	Bootstrap []peer.AddrInfo
	// MDNS enables LAN discovery (ignored when listening only on loopback).
	MDNS bool
	// SwarmKey, when set, makes a private network: only holders of the same
	// key can connect. Such a host listens on TCP only.
	SwarmKey pnet.PSK
	// Renderers are advertised to peers (name -> exact version) in the
	// libp2p user agent that identify exchanges; see Agent.
	Renderers map[string]string
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// DefaultListenAddrs are the addresses a node listens on when not told.
func DefaultListenAddrs() []ma.Multiaddr {
	return []ma.Multiaddr{
		ma.StringCast(fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", DefaultPort)),
		ma.StringCast(fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", DefaultPort)),
		ma.StringCast(fmt.Sprintf("/ip6/::/tcp/%d", DefaultPort)),
		ma.StringCast(fmt.Sprintf("/ip6/::/udp/%d/quic-v1", DefaultPort)),
	}
}

// Node is a running libp2p host with its DHTs and pub/sub router.
type Node struct {
	cfg       Config
	log       *slog.Logger
	host      host.Host
	routed    host.Host
	dht       *dhts
	lanQ      chan cid.Cid // CIDs to announce on the LAN DHT (announceLAN)
	wanQ      chan cid.Cid // CIDs to announce on the WAN DHT (announceWAN)
	pending   pendingWAN   // CIDs whose WAN announce must wait
	ps        *pubsub.PubSub
	psStop    context.CancelFunc
	reach     atomic.Int32 // network.Reachability, from AutoNAT v1
	confirmed atomic.Bool  // AutoNAT v2 confirmed a public address

	mu       sync.Mutex
	topics   map[string]*pubsub.Topic
	relaying []pubsub.RelayCancelFunc // one per joined topic
	closed   bool
}

// New builds the host, DHTs and GossipSub router and starts listening.
// Discovery and bootstrapping start in Run.
func New(cfg Config) (*Node, error) {
	if cfg.Identity == nil {
		return nil, errors.New("p2p: no identity key")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	routeLibp2pLogs(cfg.Logger.Handler())
	if len(cfg.ListenAddrs) == 0 {
		cfg.ListenAddrs = DefaultListenAddrs()
	}
	listen := cfg.ListenAddrs
	if cfg.SwarmKey != nil {
		listen = withoutQUIC(listen)
		if len(listen) == 0 {
			return nil, errors.New("p2p: a swarm key needs a TCP listen address (QUIC cannot carry a private network)")
		}
	}
	rm, err := resourceManager()
	if err != nil {
		return nil, err
	}
	// AutoRelay asks for candidates from the WAN DHT, which exists only
	// once the host does.
	var relaySource atomic.Pointer[dht.IpfsDHT]
	opts := []libp2p.Option{
		libp2p.Identity(cfg.Identity),
		libp2p.ListenAddrs(listen...),
		libp2p.ResourceManager(rm),
		libp2p.UserAgent(Agent(cfg.Renderers)),
		libp2p.EnableHolePunching(holepunch.WithTracer(holePunchLog{cfg.Logger})),
		// AutoNAT: v1 tells a node whether it is reachable at all (and
		// so whether to look for relays and which DHT mode to use); it
		// needs reachable peers that answer, hence the service. v2
		// checks single addresses with any peer.
		libp2p.EnableNATService(),
		libp2p.EnableAutoNATv2(),
		// The relay service is relayService, run by watchNetwork.
		libp2p.EnableAutoRelayWithPeerSource(func(ctx context.Context, n int) <-chan peer.AddrInfo {
			return relayCandidates(ctx, relaySource.Load(), n)
		}, autorelayOptions()...),
	}
	if !onlyLoopback(listen) {
		opts = append(opts, libp2p.NATPortMap())
	}
	if cfg.SwarmKey != nil {
		opts = append(opts, libp2p.PrivateNetwork(cfg.SwarmKey), libp2p.Transport(tcp.NewTCPTransport))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("starting libp2p host on %v: %w", listen, err)
	}
	n := &Node{
		cfg:    cfg,
		log:    cfg.Logger,
		host:   h,
		topics: map[string]*pubsub.Topic{},
		lanQ:   make(chan cid.Cid, 256),
		wanQ:   make(chan cid.Cid, 256),
	}
	kad, err := newDHTs(h, cfg.Bootstrap)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("starting DHTs: %w", err)
	}
	n.dht = kad
	relaySource.Store(kad.WAN)
	n.routed = relayedStreams{routedhost.Wrap(h, kad)}
	psCtx, psStop := context.WithCancel(context.Background())
	ps, err := pubsub.NewGossipSub(psCtx, h,
		pubsub.WithPeerOutboundQueueSize(512),
		pubsub.WithValidateQueueSize(1024),
		pubsub.WithMaxMessageSize(MaxMessageSize+4096),
		// Every node forwards joined topics (see Join), so a publisher is
		// in the topic's mesh, which GossipSub fills only at its next
		// heartbeat: a message published before that reached nobody.
		// Flood publishing sends a node's own messages to every peer of
		// the topic at once; forwarding still goes through the mesh.
		pubsub.WithFloodPublish(true),
		pubsub.WithDiscovery(drouting.NewRoutingDiscovery(contentRouting{n})),
		pubsub.WithLogger(slog.New(libp2pHandler{}).With("logger", "pubsub")),
	)
	if err != nil {
		psStop()
		kad.Close()
		h.Close()
		return nil, fmt.Errorf("starting GossipSub: %w", err)
	}
	n.ps, n.psStop = ps, psStop
	return n, nil
}

// ID is the node's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Host is the plain libp2p host.
func (n *Node) Host() host.Host { return n.host }

// RoutedHost is the host wrapped so that dialing a bare peer ID looks its
// addresses up in the DHTs, and whose streams may use a relayed
// connection (see relayedStreams).
func (n *Node) RoutedHost() host.Host { return n.routed }

// Addrs are the node's full multiaddrs, /p2p/ID included.
func (n *Node) Addrs() []ma.Multiaddr {
	info := peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()}
	addrs, _ := peer.AddrInfoToP2pAddrs(&info)
	return addrs
}

// Run connects to the bootstrap peers, starts mDNS, keeps the DHTs'
// routing tables fed and runs the relay service while the node is
// reachable, until ctx ends. It does not close the node: call Close after
// everything that uses the host has stopped.
func (n *Node) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if n.cfg.MDNS && !onlyLoopback(n.host.Network().ListenAddresses()) {
		svc := mdns.NewMdnsService(n.host, MDNSService, &mdnsNotifee{n: n, ctx: ctx, dials: &wg})
		if err := svc.Start(); err != nil {
			n.log.Warn("mdnsUnavailable", "err", err)
		} else {
			defer svc.Close()
		}
	}
	conns := connLog{n.log}
	n.host.Network().Notify(conns)
	defer n.host.Network().StopNotify(conns)
	wg.Go(func() { discoverVolunteers(ctx, n) })
	wg.Go(func() { n.watchNetwork(ctx) })
	wg.Go(func() { n.announceLAN(ctx) })
	wg.Go(func() { n.announceWAN(ctx) })
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	for {
		n.connectBootstrap(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// connectBootstrap dials the bootstrap peers that are not connected while
// the node knows few peers, then refreshes the routing table.
func (n *Node) connectBootstrap(ctx context.Context) {
	if len(n.cfg.Bootstrap) == 0 || len(n.host.Network().Peers()) >= 8 {
		return
	}
	var wg sync.WaitGroup
	for _, ai := range n.cfg.Bootstrap {
		if ai.ID == n.host.ID() || n.host.Network().Connectedness(ai.ID) == network.Connected {
			continue
		}
		wg.Add(1)
		go func(ai peer.AddrInfo) {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := n.host.Connect(cctx, ai); err != nil {
				n.log.Debug("bootstrapDialFailed", "peer", ai.ID, "err", err)
			}
		}(ai)
	}
	wg.Wait()
	if err := n.dht.Bootstrap(ctx); err != nil {
		n.log.Debug("dhtBootstrapFailed", "err", err)
	}
}

// Close shuts down pub/sub, the DHTs and the host, in that order. The torrent
// client and anything else using the host must be closed first.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	for _, stop := range n.relaying {
		stop()
	}
	for _, t := range n.topics {
		t.Close()
	}
	n.mu.Unlock()
	n.psStop()
	err := n.dht.Close()
	if herr := n.host.Close(); err == nil {
		err = herr
	}
	return err
}

// resourceManager is go-libp2p's with the per-address limits raised: by
// default 8 connections at once per IPv4 address (or IPv6 /56), and new
// ones at 0.2 a second after a burst of 16. A household or campus NAT puts
// many volunteers behind one address, and every connection through a
// relay counts against the relay's address, on both ends.
func resourceManager() (network.ResourceManager, error) {
	limits := rcmgr.DefaultLimits.AutoScale()
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits),
		rcmgr.WithLimitPerSubnet(
			[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 32, ConnCount: 64}},
			[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 56, ConnCount: 64}, {PrefixLength: 48, ConnCount: 512}},
		),
		rcmgr.WithConnRateLimiters(&rate.Limiter{
			NetworkPrefixLimits: []rate.PrefixLimit{
				{Prefix: netip.MustParsePrefix("127.0.0.0/8")},
				{Prefix: netip.MustParsePrefix("::1/128")},
			},
			SubnetRateLimiter: rate.SubnetLimiter{
				IPv4SubnetLimits: []rate.SubnetLimit{{PrefixLength: 32, Limit: rate.Limit{RPS: 1, Burst: 64}}},
				IPv6SubnetLimits: []rate.SubnetLimit{
					{PrefixLength: 56, Limit: rate.Limit{RPS: 1, Burst: 64}},
					{PrefixLength: 48, Limit: rate.Limit{RPS: 4, Burst: 512}},
				},
				GracePeriod: time.Minute,
			},
		}),
		rcmgr.WithMetricsDisabled(),
	)
	if err != nil {
		return nil, fmt.Errorf("building resource manager: %w", err)
	}
	return rm, nil
}

// autorelayOptions tune AutoRelay for a small swarm: take a reservation
// with the first relay found (by default it waits up to 3 minutes for 4
// candidates to choose from, and a swarm may have one or two reachable
// nodes), and retry a relay that refused after a minute, not an hour.
func autorelayOptions() []autorelay.Option {
	return []autorelay.Option{
		autorelay.WithMinCandidates(1),
		autorelay.WithBackoff(time.Minute),
	}
}

// onlyLoopback reports whether every address is a loopback one.
func onlyLoopback(addrs []ma.Multiaddr) bool {
	if len(addrs) == 0 {
		return false
	}
	for _, a := range addrs {
		ip, err := manet.ToIP(a)
		if err != nil || !ip.IsLoopback() {
			return false
		}
	}
	return true
}

func withoutQUIC(addrs []ma.Multiaddr) []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, a := range addrs {
		if _, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			out = append(out, a)
		}
	}
	return out
}
