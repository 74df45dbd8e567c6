// Package assetstest has helpers for tests and benchmarks of the asset
// store: loopback libp2p hosts and an in-memory Providers shared by every
// store of a test. It is not for production code.
package assetstest

import (
	"context"
	"sync"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// NewHost starts a libp2p host listening on 127.0.0.1 only.
func NewHost() (host.Host, error) {
	return libp2p.New(
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.DisableRelay(),
	)
}

// Host is NewHost for tests; it is closed at the end of the test.
func Host(t testing.TB) host.Host {
	t.Helper()
	h, err := NewHost()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// Mem is an in-memory provider index, a stand-in for the DHT.
type Mem struct {
	mu        sync.Mutex
	providers map[cid.Cid]map[peer.ID]host.Host
}

// NewMem returns an empty index.
func NewMem() *Mem { return &Mem{providers: map[cid.Cid]map[peer.ID]host.Host{}} }

// For is the view of the index that the node of h uses.
func (m *Mem) For(h host.Host) *MemProviders { return &MemProviders{m: m, h: h} }

// Forget removes h as a provider of everything (a node that went away).
func (m *Mem) Forget(h host.Host) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ps := range m.providers {
		delete(ps, h.ID())
	}
}

// MemProviders implements assets.Providers over a Mem.
type MemProviders struct {
	m *Mem
	h host.Host
}

// Provide records the view's host as a provider of c.
func (p *MemProviders) Provide(ctx context.Context, c cid.Cid) error {
	p.m.mu.Lock()
	defer p.m.mu.Unlock()
	if p.m.providers[c] == nil {
		p.m.providers[c] = map[peer.ID]host.Host{}
	}
	p.m.providers[c][p.h.ID()] = p.h
	return ctx.Err()
}

// FindProviders returns the recorded providers of c with their addresses.
func (p *MemProviders) FindProviders(ctx context.Context, c cid.Cid) <-chan peer.AddrInfo {
	p.m.mu.Lock()
	var out []peer.AddrInfo
	for _, h := range p.m.providers[c] {
		out = append(out, peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()})
	}
	p.m.mu.Unlock()
	ch := make(chan peer.AddrInfo, len(out))
	for _, ai := range out {
		ch <- ai
	}
	close(ch)
	return ch
}
