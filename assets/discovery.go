package assets

import (
	"context"
	"sync"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
)

const (
	firstRequery = 500 * time.Millisecond
	maxRequery   = 10 * time.Second
	findTimeout  = 30 * time.Second
)

// discovery feeds a downloading torrent with providers of its CID: it
// queries at once, then again with a backoff up to maxRequery, and at once
// with every known peer re-added when kicked (a stalled download).
type discovery struct {
	s     *Store
	c     cid.Cid
	kickC chan struct{}

	mu    sync.Mutex
	t     *torrent.Torrent // replaced when a stalled download restarts
	known map[peer.ID]bool
}

func (d *discovery) torrent() *torrent.Torrent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.t
}

func (d *discovery) setTorrent(t *torrent.Torrent) {
	d.mu.Lock()
	d.t = t
	d.mu.Unlock()
}

func newDiscovery(s *Store, t *torrent.Torrent, c cid.Cid) *discovery {
	return &discovery{s: s, t: t, c: c, kickC: make(chan struct{}, 1), known: make(map[peer.ID]bool)}
}

func (d *discovery) run(ctx context.Context) {
	delay := firstRequery
	for {
		d.query(ctx)
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-d.kickC:
			timer.Stop()
			d.s.log.Info("downloadStalledAddingPeers", "cid", d.c, "peers", d.found())
			d.torrent().AddPeers(d.peers())
			delay = firstRequery
		case <-timer.C:
			delay = min(2*delay, maxRequery)
		}
	}
}

func (d *discovery) query(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, findTimeout)
	defer cancel()
	self := d.s.cfg.Host.ID()
	ch := d.s.cfg.Providers.FindProviders(ctx, d.c)
	if ch == nil {
		return
	}
	for {
		var ai peer.AddrInfo
		var ok bool
		select {
		case <-ctx.Done(): // also if the channel is never closed
			return
		case ai, ok = <-ch:
		}
		if !ok {
			return
		}
		if ai.ID == "" || ai.ID == self {
			continue
		}
		if len(ai.Addrs) > 0 {
			d.s.cfg.Host.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
		}
		d.mu.Lock()
		isNew := !d.known[ai.ID]
		d.known[ai.ID] = true
		d.mu.Unlock()
		if isNew {
			d.torrent().AddPeers([]torrent.PeerInfo{d.s.book.peerInfo(ai.ID)})
		}
	}
}

func (d *discovery) kick() {
	select {
	case d.kickC <- struct{}{}:
	default:
	}
}

func (d *discovery) found() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.known)
}

func (d *discovery) peers() []torrent.PeerInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]torrent.PeerInfo, 0, len(d.known))
	for id := range d.known {
		out = append(out, d.s.book.peerInfo(id))
	}
	return out
}
