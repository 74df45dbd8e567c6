package p2p

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// LANExtension tells the LAN DHT's protocol from the WAN one's:
// /renderswarm/lan/kad/1.0.0 next to /renderswarm/kad/1.0.0.
const LANExtension = "/lan"

// dhts are the two DHTs every node runs, as Kubo does:
//
//   - The WAN DHT holds only peers with a public address (a relay address
//     counts, a private one does not) and passes on only public addresses,
//     so one home's 192.168.1.x never reaches another home, where it would
//     name a stranger. It runs in server mode unless AutoNAT finds the node
//     unreachable (dht.ModeAutoServer): a node behind NAT answers no
//     queries, since peers could reach it only through a relay, and its
//     routing-table entry would cost everyone a timeout.
//   - The LAN DHT holds the peers reached over a non-public address (a
//     LAN, loopback, or a public address on the same link) and always
//     serves. Nodes on one LAN, or a LAN cut off from the internet, find
//     each other's content through it whatever AutoNAT says.
//
// Node.Provide announces on both; lookups ask both and merge the answers.
// (go-libp2p-kad-dht/dual does the same but pulls in more modules, and
// provides on the LAN only while the WAN table is empty.)
type dhts struct{ WAN, LAN *dht.IpfsDHT }

var (
	_ routing.PeerRouting    = (*dhts)(nil)
	_ routing.ContentRouting = contentRouting{}
)

// newDHTs builds both DHTs on h.
func newDHTs(h host.Host, bootstrap []peer.AddrInfo) (*dhts, error) {
	wan, err := dht.New(h,
		dht.ProtocolPrefix(ProtocolPrefix),
		dht.Mode(dht.ModeAutoServer),
		dht.BootstrapPeers(bootstrap...),
		dht.QueryFilter(dht.PublicQueryFilter),
		dht.RoutingTableFilter(dht.PublicRoutingTableFilter),
		dht.AddressFilter(publicAddrs),
	)
	if err != nil {
		return nil, err
	}
	lan, err := dht.New(h,
		dht.ProtocolPrefix(ProtocolPrefix),
		dht.ProtocolExtension(LANExtension),
		dht.Mode(dht.ModeServer),
		dht.BootstrapPeers(bootstrap...),
		dht.QueryFilter(dht.PrivateQueryFilter),
		dht.RoutingTableFilter(lanPeer),
	)
	if err != nil {
		return nil, errors.Join(err, wan.Close())
	}
	return &dhts{WAN: wan, LAN: lan}, nil
}

// wanLookupTimeout bounds a WAN lookup. In a healthy private swarm one
// takes well under a second; when the WAN has stopped answering (the
// node's link is down, unnoticed yet by its connections) it would hang to
// the caller's deadline and hold back the LAN's answers, which callers
// that re-query only once a lookup ends never saw again.
const wanLookupTimeout = 10 * time.Second

// FindProvidersAsync asks both DHTs and streams each provider once. The
// WAN is asked only while a WAN server is connected, and for at most
// wanLookupTimeout.
func (d *dhts) FindProvidersAsync(ctx context.Context, c cid.Cid, count int) <-chan peer.AddrInfo {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan peer.AddrInfo)
	lan := d.LAN.FindProvidersAsync(ctx, c, count)
	var wan <-chan peer.AddrInfo
	if d.wanConnected() {
		wctx, wcancel := context.WithTimeout(ctx, wanLookupTimeout)
		wan = d.WAN.FindProvidersAsync(wctx, c, count)
		context.AfterFunc(ctx, wcancel)
	}
	go func() {
		defer close(out)
		defer cancel()
		seen := map[peer.ID]bool{}
		for wan != nil || lan != nil {
			var ai peer.AddrInfo
			var ok bool
			select {
			case ai, ok = <-wan:
				if !ok {
					wan = nil
					continue
				}
			case ai, ok = <-lan:
				if !ok {
					lan = nil
					continue
				}
			}
			if seen[ai.ID] {
				continue
			}
			seen[ai.ID] = true
			select {
			case out <- ai:
			case <-ctx.Done():
				return
			}
			if count > 0 && len(seen) == count {
				return
			}
		}
	}()
	return out
}

// FindPeer asks both DHTs for p's addresses (the WAN as FindProvidersAsync
// does) and merges them; it fails only if both fail.
func (d *dhts) FindPeer(ctx context.Context, p peer.ID) (peer.AddrInfo, error) {
	var wg sync.WaitGroup
	var wan, lan peer.AddrInfo
	var wanErr, lanErr error = errNoPeers, nil
	if d.wanConnected() {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, wanLookupTimeout)
			defer cancel()
			wan, wanErr = d.WAN.FindPeer(ctx, p)
		})
	}
	wg.Go(func() { lan, lanErr = d.LAN.FindPeer(ctx, p) })
	wg.Wait()
	if wanErr != nil && lanErr != nil {
		return peer.AddrInfo{}, errors.Join(wanErr, lanErr)
	}
	return peer.AddrInfo{ID: p, Addrs: ma.Unique(append(wan.Addrs, lan.Addrs...))}, nil
}

// Bootstrap refreshes both routing tables.
func (d *dhts) Bootstrap(ctx context.Context) error {
	return errors.Join(d.WAN.Bootstrap(ctx), d.LAN.Bootstrap(ctx))
}

// Close stops both DHTs.
func (d *dhts) Close() error { return errors.Join(d.WAN.Close(), d.LAN.Close()) }

// contentRouting is the DHTs as one routing.ContentRouting, for rendezvous
// discovery: Provide announces on both (Node.Provide).
type contentRouting struct{ n *Node }

func (r contentRouting) Provide(ctx context.Context, c cid.Cid, announce bool) error {
	if !announce {
		return r.n.recordProvider(ctx, c)
	}
	return r.n.Provide(ctx, c)
}

func (r contentRouting) FindProvidersAsync(ctx context.Context, c cid.Cid, count int) <-chan peer.AddrInfo {
	return r.n.dht.FindProvidersAsync(ctx, c, count)
}

// publicAddrs keeps the addresses the WAN DHT may pass on.
func publicAddrs(addrs []ma.Multiaddr) []ma.Multiaddr {
	return ma.FilterAddrs(addrs, manet.IsPublicAddr)
}

// lanPeer admits a peer to the LAN DHT's routing table when this node
// reaches it directly over a non-public address (RFC 1918, loopback,
// link-local, or a range libp2p calls unroutable), or over a public
// address on the same link.
func lanPeer(d any, p peer.ID) bool {
	h := d.(interface{ Host() host.Host }).Host()
	for _, c := range h.Network().ConnsToPeer(p) {
		a := c.RemoteMultiaddr()
		if !isRelayAddr(a) && !manet.IsPublicAddr(a) {
			return true
		}
	}
	return dht.PrivateRoutingTableFilter(d, p)
}

func isRelayAddr(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// recordProvider records locally, in both DHTs, that this node provides c.
func (n *Node) recordProvider(ctx context.Context, c cid.Cid) error {
	return errors.Join(n.dht.LAN.Provide(ctx, c, false), n.dht.WAN.Provide(ctx, c, false))
}

// announce queues c to be announced on the LAN DHT (announceLAN) and on
// the WAN DHT (announceWAN). Announcing takes a lookup; when a link has
// just gone down, unnoticed yet by the connections over it, a lookup
// waits for timeouts (20 s seen on a LAN cut off from the internet), and
// a caller announcing one CID after another would fall behind by that
// much each time. The local record made first (recordProvider) already
// answers every peer whose lookup reaches this node, which on a small LAN
// is every lookup. It fails only if there is nowhere to announce.
func (n *Node) announce(c cid.Cid) error {
	queued := false
	if n.dht.LAN.RoutingTable().Size() > 0 {
		select {
		case n.lanQ <- c:
		default: // a burst; the local record answers, reproviding catches up
		}
		queued = true
	}
	if n.dht.WAN.RoutingTable().Size() > 0 {
		select {
		case n.wanQ <- c:
		default:
			n.pending.add(c)
		}
		queued = true
	}
	if !queued {
		return errNoPeers
	}
	return nil
}

// announceLAN announces what announce queued on the LAN DHT, one CID at a
// time, until ctx ends.
func (n *Node) announceLAN(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-n.lanQ:
			pctx, cancel := context.WithTimeout(ctx, rpcTimeout)
			start := time.Now()
			err := n.dht.LAN.Provide(pctx, c, true)
			cancel()
			if err != nil || time.Since(start) > 2*time.Second {
				n.log.Debug("lanAnnounce", "cid", c, "elapsed", time.Since(start), "err", err)
			}
		}
	}
}

// announceWAN announces what announce queued on the WAN DHT, one CID at a
// time, until ctx ends. While no WAN server is connected an announce would
// only wait for timeouts, so CIDs wait in n.pending, and are announced once
// one connects again.
func (n *Node) announceWAN(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-n.wanQ:
			if !n.wanConnected() {
				n.log.Debug("wanAnnounceDeferred", "cid", c)
				n.pending.add(c)
				continue
			}
			if err := n.provideWAN(ctx, c); err != nil {
				n.pending.add(c)
			}
		case <-t.C:
			n.announcePending(ctx)
		}
	}
}

func (n *Node) provideWAN(ctx context.Context, c cid.Cid) error {
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	start := time.Now()
	err := n.dht.WAN.Provide(ctx, c, true)
	n.log.Debug("wanAnnounce", "cid", c, "elapsed", time.Since(start), "err", err)
	return err
}

var errNoPeers = errors.New("no DHT peers connected")

// wanConnected reports whether a peer of the WAN routing table is connected.
func (n *Node) wanConnected() bool { return n.dht.wanConnected() }

func (d *dhts) wanConnected() bool {
	nw := d.WAN.Host().Network()
	for _, p := range d.WAN.RoutingTable().ListPeers() {
		if nw.Connectedness(p) == network.Connected {
			return true
		}
	}
	return false
}

// pendingWAN holds CIDs whose WAN announce failed or had to wait, bounded:
// beyond maxPendingWAN the periodic reprovide of the asset store is what
// catches up.
type pendingWAN struct {
	mu   sync.Mutex
	cids map[cid.Cid]struct{}
}

const maxPendingWAN = 4096

func (p *pendingWAN) add(c cid.Cid) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cids == nil {
		p.cids = map[cid.Cid]struct{}{}
	}
	if len(p.cids) < maxPendingWAN {
		p.cids[c] = struct{}{}
	}
}

func (p *pendingWAN) take() []cid.Cid {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]cid.Cid, 0, len(p.cids))
	for c := range p.cids {
		out = append(out, c)
	}
	p.cids = nil
	return out
}

// announcePending announces on the WAN what could not be announced there
// before, once a WAN server is connected.
func (n *Node) announcePending(ctx context.Context) {
	if !n.wanConnected() {
		return
	}
	cids := n.pending.take()
	if len(cids) > 0 {
		n.log.Info("announcingPendingOnWAN", "cids", len(cids))
	}
	for i, c := range cids {
		if err := n.provideWAN(ctx, c); err != nil {
			// Still unreachable: keep the rest for the next round.
			for _, c := range cids[i:] {
				n.pending.add(c)
			}
			return
		}
	}
}
