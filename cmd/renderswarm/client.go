package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/node"
)

// dial connects to the node running on the home.
func dial(ctx context.Context, g *Globals) (*gui.Client, error) {
	home, err := node.ResolveHome(g.Home)
	if err != nil {
		return nil, err
	}
	return gui.Dial(ctx, home)
}

// listing prints a list the node returns: JSON, or a table with one row
// per item, or the words for an empty list.
type listing[T any] struct {
	fetch  func(*gui.Client, context.Context) ([]T, error)
	none   string
	header string
	row    func(T) string
}

func (l listing[T]) print(ctx context.Context, g *Globals, asJSON bool) error {
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	list, err := l.fetch(cl, ctx)
	if err != nil {
		return err
	}
	if asJSON {
		if list == nil {
			list = []T{}
		}
		return printJSON(list)
	}
	if len(list) == 0 {
		fmt.Println(l.none)
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, l.header)
	for _, item := range list {
		fmt.Fprintln(tw, l.row(item))
	}
	return tw.Flush()
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type idCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

func (c *idCmd) Run(ctx context.Context, g *Globals) error {
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	id, err := cl.ID(ctx)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(id)
	}
	fmt.Printf("peer ID: %s\n", id.PeerID)
	for _, a := range id.Addrs {
		fmt.Printf("address: %s\n", a)
	}
	fmt.Printf("GUI: %s\n", id.GUI)
	fmt.Println(sandboxLine(id.Sandbox))
	return nil
}

// sandboxLine is the sandbox state in one line.
func sandboxLine(s gui.Sandbox) string {
	switch {
	case s.Working:
		return "sandbox: working"
	case s.AllowUnsandboxed:
		return "sandbox: not working (" + s.Problem + "); strangers' scenes render unsandboxed all the same (--allow-unsandboxed)"
	}
	var refused []string
	for name, state := range s.Renderers {
		if state != gui.SandboxWorking {
			refused = append(refused, name)
		}
	}
	slices.Sort(refused)
	return "sandbox: not working (" + s.Problem + "); strangers' scenes are not rendered with " + strings.Join(refused, " or ")
}

type peersCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

func (c *peersCmd) Run(ctx context.Context, g *Globals) error {
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	peers, err := cl.Peers(ctx)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(peers)
	}
	if len(peers) == 0 {
		fmt.Println("no peers connected")
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tSTATE\tLATENCY\tRENDERERS\tADDRESS")
	for _, p := range peers {
		addr := ""
		if len(p.Addrs) > 0 {
			addr = p.Addrs[0]
		}
		renderers := strings.Join(p.Renderers, ", ")
		if renderers == "" {
			renderers = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1fms\t%s\t%s\n", p.PeerID, p.State, p.LatencyMS, renderers, addr)
	}
	return tw.Flush()
}

type assetsCmd struct {
	Add   assetsAddCmd   `cmd:"" help:"Make files and folders one asset, seed it and announce it."`
	Get   assetsGetCmd   `cmd:"" help:"Fetch an asset by CID (or OWNER/NAME[@VERSION]) from whoever has it, verify it, then seed it."`
	Ls    assetsLsCmd    `cmd:"" help:"List local assets."`
	Pin   assetsPinCmd   `cmd:"" help:"Keep an asset: never collect it from the cache."`
	Unpin assetsUnpinCmd `cmd:"" help:"Let the cache collect an asset when space is needed."`

	Publish     assetsPublishCmd     `cmd:"" help:"Sign DIR as the next version of this node's collection NAME, and announce it."`
	Versions    assetsVersionsCmd    `cmd:"" help:"List the versions of a collection OWNER/NAME."`
	Diff        assetsDiffCmd        `cmd:"" help:"What changed between two listings (CIDs or OWNER/NAME@VERSION)."`
	Collections assetsCollectionsCmd `cmd:"" help:"List the collections this node knows, its own first."`
	Follow      assetsFollowCmd      `cmd:"" help:"Fetch new versions of a collection as they appear."`
	Unfollow    assetsUnfollowCmd    `cmd:"" help:"Stop following a collection."`
	Record      assetsRecordCmd      `cmd:"" help:"Write a collection version's signed record (to hand over out of band)."`
	Import      assetsImportCmd      `cmd:"" name:"import-record" help:"Store a signed collection record given by hand."`
	Torrent     assetsTorrentCmd     `cmd:"" help:"Write a .torrent file for a stored asset, for stock BitTorrent clients."`
	Magnet      assetsMagnetCmd      `cmd:"" help:"Print a magnet link for a stored asset."`
	AddTorrent  assetsAddTorrentCmd  `cmd:"" name:"add-torrent" help:"Import a torrent made elsewhere with its files (every piece checked)."`
	Stats       assetsStatsCmd       `cmd:"" help:"Bytes uploaded and downloaded since the node started."`
}

type assetsAddCmd struct {
	Paths []string `arg:"" help:"Files and folders." type:"path"`
	JSON  bool     `name:"json" help:"Print JSON."`
}

func (c *assetsAddCmd) Run(ctx context.Context, g *Globals) error {
	for _, p := range c.Paths {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("cannot add %s: %w", p, unwrapPathError(err))
		}
	}
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	a, err := cl.AddAssets(ctx, c.Paths)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(struct {
			CID   string `json:"cid"`
			Size  int64  `json:"size"`
			Files int    `json:"files"`
		}{a.CID, a.Size, a.Files})
	}
	fmt.Printf("added %s (%s, %d files)\n%s\n", a.Name, humanBytes(float64(a.Size)), a.Files, a.CID)
	return nil
}

type assetsGetCmd struct {
	CID     string        `arg:"" help:"The asset's CID."`
	Out     string        `short:"o" help:"Write the files under this directory." type:"path" placeholder:"DIR"`
	Timeout time.Duration `help:"Give up after this long." default:"10m"`
}

func (c *assetsGetCmd) Run(ctx context.Context, g *Globals) error {
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	bar := newProgressBar(os.Stderr)
	a, err := cl.GetAsset(ctx, gui.GetAssetRequest{CID: c.CID, Out: c.Out, Timeout: c.Timeout.String()}, bar.update)
	bar.finish()
	if err != nil {
		return err
	}
	where := "in the store"
	if c.Out != "" {
		where = "to " + filepath.Clean(c.Out)
	}
	fmt.Printf("fetched and verified %s (%s, %d files) %s\n%s\n", a.Name, humanBytes(float64(a.Size)), a.Files, where, a.CID)
	return nil
}

type assetsLsCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

func (c *assetsLsCmd) Run(ctx context.Context, g *Globals) error {
	return listing[gui.Asset]{
		fetch:  (*gui.Client).Assets,
		none:   "no assets",
		header: "CID\tNAME\tSIZE\tFILES\tKEPT",
		row: func(a gui.Asset) string {
			kept := "cached"
			if a.Pinned {
				kept = "pinned"
			}
			if !a.Complete {
				kept = "incomplete"
			}
			return fmt.Sprintf("%s\t%s\t%s\t%d\t%s", a.CID, a.Name, humanBytes(float64(a.Size)), a.Files, kept)
		},
	}.print(ctx, g, c.JSON)
}

type assetsPinCmd struct {
	CID string `arg:"" help:"The asset's CID."`
}

func (c *assetsPinCmd) Run(ctx context.Context, g *Globals) error { return pin(ctx, g, c.CID, true) }

type assetsUnpinCmd struct {
	CID string `arg:"" help:"The asset's CID."`
}

func (c *assetsUnpinCmd) Run(ctx context.Context, g *Globals) error { return pin(ctx, g, c.CID, false) }

func pin(ctx context.Context, g *Globals, cid string, pinned bool) error {
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	return cl.Pin(ctx, cid, pinned)
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
