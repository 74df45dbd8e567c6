package node

import (
	"context"
	"sort"

	"github.com/renderswarm/renderswarm/assets"
	"github.com/renderswarm/renderswarm/collection"
	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/p2p"
)

// nodeInfo answers the API's questions about the node.
type nodeInfo struct{ n *node }

var _ gui.NodeInfo = nodeInfo{}

func (n nodeInfo) ID() gui.ID {
	id := gui.ID{PeerID: n.n.net.ID().String(), GUI: n.n.url, Sandbox: n.n.sandbox.state()}
	for _, a := range n.n.net.Addrs() {
		id.Addrs = append(id.Addrs, a.String())
	}
	return id
}

func (n nodeInfo) Peers() []gui.Peer {
	var out []gui.Peer
	for _, p := range n.n.net.Peers() {
		state := "direct"
		if p.Relayed {
			state = "relayed"
		}
		var renderers []string
		for name, version := range p2p.ParseAgent(p.Agent) {
			renderers = append(renderers, name+" "+version)
		}
		sort.Strings(renderers)
		out = append(out, gui.Peer{
			PeerID:    p.ID.String(),
			Addrs:     p.Addrs,
			Agent:     p.Agent,
			LatencyMS: float64(p.Latency.Microseconds()) / 1000,
			Renderers: renderers,
			State:     state,
		})
	}
	return out
}

// assetsAPI adapts the asset store to the API's types.
type assetsAPI struct {
	s     *assets.Store
	colls *collection.Service
}

var _ gui.Assets = assetsAPI{}

func toAPI(i assets.Info) gui.Asset {
	return gui.Asset{CID: i.CID.String(), Name: i.Name, Size: i.Size, Files: i.Files,
		Pinned: i.Pinned, Complete: i.Complete, Listing: i.Listing, Added: i.Added}
}

func (a assetsAPI) Add(ctx context.Context, paths []string) (gui.Asset, error) {
	i, err := a.s.AddListing(ctx, paths)
	return toAPI(i), err
}

func (a assetsAPI) Get(ctx context.Context, c string, progress func(gui.Progress)) (gui.Asset, error) {
	id, err := a.resolve(ctx, c)
	if err != nil {
		return gui.Asset{}, err
	}
	i, err := a.s.Get(ctx, id, func(p assets.Progress) {
		progress(gui.Progress{Phase: p.Phase, Done: p.Done, Total: p.Total, Peers: p.Peers, Rate: p.Rate})
	})
	return toAPI(i), err
}

func (a assetsAPI) Export(c, dir string) error {
	id, _, err := job.ParseAssetCID(c)
	if err != nil {
		return err
	}
	return a.s.Export(id, dir)
}

func (a assetsAPI) List() ([]gui.Asset, error) {
	list, err := a.s.List()
	out := make([]gui.Asset, 0, len(list))
	for _, i := range list {
		out = append(out, toAPI(i))
	}
	return out, err
}

func (a assetsAPI) Pin(c string, pinned bool) error {
	id, _, err := job.ParseAssetCID(c)
	if err != nil {
		return err
	}
	return a.s.Pin(id, pinned)
}

// creditsAPI adapts the ledger to the API (milli-CU to CU).
type creditsAPI struct{ l *credits.Ledger }

var _ gui.Credits = creditsAPI{}

func (a creditsAPI) Balance() (gui.Balance, error) {
	b, err := a.l.Balance()
	return gui.Balance{Balance: float64(b.Balance) / 1000, Earned: float64(b.Earned) / 1000, Spent: float64(b.Spent) / 1000}, err
}

func (a creditsAPI) Receipts(limit int) ([]gui.Receipt, error) {
	list, err := a.l.Receipts(limit)
	out := make([]gui.Receipt, 0, len(list))
	for _, e := range list {
		out = append(out, gui.Receipt{Role: string(e.Role), Counterpart: e.Counterpart.String(), Task: e.Task.String(),
			Result: e.Result.String(), CU: float64(e.CU) / 1000, Issued: e.Issued, Countersigned: e.Countersigned})
	}
	return out, err
}

func (n nodeInfo) Network() gui.Network {
	nw := gui.Network{
		Peers:        len(n.n.net.Peers()),
		RoutingPeers: n.n.net.RoutingTableSize(),
		Reachability: n.n.net.Reachability(),
		Relays:       n.n.net.RelayAddrs(),
	}
	for _, a := range n.n.net.Host().Network().ListenAddresses() {
		nw.ListenAddrs = append(nw.ListenAddrs, a.String())
	}
	return nw
}
