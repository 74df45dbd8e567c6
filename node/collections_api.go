package node

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/assets"
	"github.com/renderswarm/renderswarm/collection"
	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/job"
)

var (
	_ gui.Sharing     = assetsAPI{}
	_ gui.Collections = collectionsAPI{}
)

// resolve turns what a user names an asset by, a CID or a collection's
// version (OWNER/NAME[@VERSION]), into the asset's CID.
func (a assetsAPI) resolve(ctx context.Context, s string) (cid.Cid, error) {
	if !collection.IsRef(s) {
		c, _, err := job.ParseAssetCID(s)
		return c, err
	}
	ref, err := collection.ParseRef(s)
	if err != nil {
		return cid.Undef, err
	}
	r, err := a.colls.Resolve(ctx, ref)
	if err != nil {
		return cid.Undef, err
	}
	return r.Listing, nil
}

func (a assetsAPI) Stats() gui.TransferStats {
	st := a.s.Stats()
	return gui.TransferStats{Uploaded: st.Uploaded, Downloaded: st.Downloaded, Seeding: st.Seeding,
		Fetching: st.Fetching, BTListen: a.s.BTAddr()}
}

func (a assetsAPI) Torrent(c string) ([]byte, error) {
	id, err := a.resolve(context.Background(), c)
	if err != nil {
		return nil, err
	}
	return a.s.Torrent(id)
}

func (a assetsAPI) Magnet(c string) (string, error) {
	id, err := a.resolve(context.Background(), c)
	if err != nil {
		return "", err
	}
	return a.s.Magnet(id)
}

func (a assetsAPI) AddTorrent(ctx context.Context, torrentFile, dataDir string) (gui.Asset, error) {
	b, err := os.ReadFile(torrentFile)
	if err != nil {
		return gui.Asset{}, fmt.Errorf("reading torrent: %w", err)
	}
	i, err := a.s.AddTorrent(ctx, b, dataDir)
	return toAPI(i), err
}

func (a assetsAPI) Diff(ctx context.Context, from, to string) (gui.Diff, error) {
	var ls [2]*assets.Listing
	var ids [2]cid.Cid
	for i, s := range []string{from, to} {
		id, err := a.resolve(ctx, s)
		if err != nil {
			return gui.Diff{}, err
		}
		if ls[i], err = a.s.Listing(ctx, id); err != nil {
			return gui.Diff{}, err
		}
		ids[i] = id
	}
	d := gui.Diff{From: ids[0].String(), To: ids[1].String(), Changes: []gui.Change{}}
	for _, c := range assets.Diff(ls[0], ls[1]) {
		d.Changes = append(d.Changes, gui.Change{Path: c.Path, Kind: c.Kind, Size: c.Size})
		if c.Kind == "added" || c.Kind == "changed" {
			d.Bytes += c.Size
		}
	}
	return d, nil
}

// collectionsAPI adapts the collection service to the API's types.
type collectionsAPI struct {
	c *collection.Service
	s *assets.Store
}

func (a collectionsAPI) version(r collection.Record) gui.Version {
	_, err := a.s.Path(r.Listing)
	return gui.Version{Ref: r.Ref(), Owner: r.Owner.String(), Name: r.Name, Version: r.Version,
		Listing: r.Listing.String(), Created: time.Unix(r.Created, 0), Stored: err == nil}
}

func (a collectionsAPI) List() ([]gui.Collection, error) {
	list, err := a.c.List()
	out := make([]gui.Collection, 0, len(list))
	for _, c := range list {
		out = append(out, gui.Collection(c))
	}
	return out, err
}

func (a collectionsAPI) Publish(ctx context.Context, name, dir string, version uint64) (gui.Version, error) {
	r, err := a.c.Publish(ctx, name, dir, version)
	if err != nil {
		return gui.Version{}, err
	}
	return a.version(r), nil
}

func (a collectionsAPI) Versions(ctx context.Context, ref string) ([]gui.Version, error) {
	r, err := collection.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	list, err := a.c.Versions(ctx, r)
	out := make([]gui.Version, 0, len(list))
	for _, v := range list {
		out = append(out, a.version(v))
	}
	return out, err
}

func (a collectionsAPI) Follow(ref string, on bool) error {
	r, err := collection.ParseRef(ref)
	if err != nil {
		return err
	}
	return a.c.Follow(r, on)
}

func (a collectionsAPI) Record(ref string) ([]byte, error) {
	r, err := collection.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	return a.c.Record(r)
}

func (a collectionsAPI) Import(record []byte) (gui.Version, error) {
	r, err := a.c.Import(record)
	if err != nil {
		return gui.Version{}, err
	}
	return a.version(r), nil
}
