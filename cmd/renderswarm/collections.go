package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/renderswarm/renderswarm/gui"
)

type assetsPublishCmd struct {
	Name    string `arg:"" help:"The collection's name (letters, digits, '.', '_', '-')."`
	Dir     string `arg:"" help:"The folder to publish as the new version." type:"path"`
	Version uint64 `name:"number" help:"Version number (default: one after the newest); --version is the binary's." placeholder:"N"`
	JSON    bool   `name:"json" help:"Print JSON."`
}

func (c *assetsPublishCmd) Run(ctx context.Context, g *Globals) error {
	if st, err := os.Stat(c.Dir); err != nil {
		return fmt.Errorf("cannot publish %s: %w", c.Dir, unwrapPathError(err))
	} else if !st.IsDir() {
		return fmt.Errorf("cannot publish %s: not a folder", c.Dir)
	}
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	v, err := cl.PublishCollection(ctx, gui.PublishCollectionRequest{Name: c.Name, Dir: c.Dir, Version: c.Version})
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(v)
	}
	fmt.Printf("published %s\n%s\n", v.Ref, v.Listing)
	return nil
}

type assetsVersionsCmd struct {
	Ref  string `arg:"" help:"OWNER/NAME"`
	JSON bool   `name:"json" help:"Print JSON."`
}

func (c *assetsVersionsCmd) Run(ctx context.Context, g *Globals) error {
	return listing[gui.Version]{
		fetch:  func(cl *gui.Client, ctx context.Context) ([]gui.Version, error) { return cl.Versions(ctx, c.Ref) },
		none:   "no versions",
		header: "VERSION\tLISTING\tCREATED\tSTORED",
		row: func(v gui.Version) string {
			stored := "no"
			if v.Stored {
				stored = "yes"
			}
			return fmt.Sprintf("%d\t%s\t%s\t%s", v.Version, v.Listing, v.Created.Format(time.DateTime), stored)
		},
	}.print(ctx, g, c.JSON)
}

type assetsDiffCmd struct {
	A    string `arg:"" help:"The older listing: a CID or OWNER/NAME@VERSION."`
	B    string `arg:"" help:"The newer listing."`
	JSON bool   `name:"json" help:"Print JSON."`
}

func (c *assetsDiffCmd) Run(ctx context.Context, g *Globals) error {
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	d, err := cl.Diff(ctx, c.A, c.B)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(d)
	}
	if len(d.Changes) == 0 {
		fmt.Println("no changes")
		return nil
	}
	mark := map[string]string{"added": "+", "removed": "-", "changed": "M", "mode": "x"}
	for _, ch := range d.Changes {
		fmt.Printf("%s %s (%s)\n", mark[ch.Kind], ch.Path, humanBytes(float64(ch.Size)))
	}
	fmt.Printf("%d changes; fetching the newer costs %s to a node holding the older\n", len(d.Changes), humanBytes(float64(d.Bytes)))
	return nil
}

type assetsCollectionsCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

func (c *assetsCollectionsCmd) Run(ctx context.Context, g *Globals) error {
	return listing[gui.Collection]{
		fetch:  (*gui.Client).Collections,
		none:   "no collections",
		header: "COLLECTION\tNEWEST\tLISTING\tFOLLOWED",
		row: func(c gui.Collection) string {
			f := ""
			switch {
			case c.Mine:
				f = "mine"
			case c.Followed:
				f = fmt.Sprintf("yes (fetched v%d)", c.Fetched)
			}
			return fmt.Sprintf("%s/%s\tv%d\t%s\t%s", c.Owner, c.Name, c.Head, c.Listing, f)
		},
	}.print(ctx, g, c.JSON)
}

type assetsFollowCmd struct {
	Ref string `arg:"" help:"OWNER/NAME"`
}

func (c *assetsFollowCmd) Run(ctx context.Context, g *Globals) error {
	return follow(ctx, g, c.Ref, true)
}

type assetsUnfollowCmd struct {
	Ref string `arg:"" help:"OWNER/NAME"`
}

func (c *assetsUnfollowCmd) Run(ctx context.Context, g *Globals) error {
	return follow(ctx, g, c.Ref, false)
}

func follow(ctx context.Context, g *Globals, ref string, on bool) error {
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	if err := cl.Follow(ctx, ref, on); err != nil {
		return err
	}
	if on {
		fmt.Printf("following %s: new versions are fetched as they appear\n", ref)
	} else {
		fmt.Printf("no longer following %s\n", ref)
	}
	return nil
}

type assetsRecordCmd struct {
	Ref string `arg:"" help:"OWNER/NAME[@VERSION]"`
	Out string `short:"o" help:"Write the record to this file (default: standard output)." type:"path" placeholder:"FILE"`
}

func (c *assetsRecordCmd) Run(ctx context.Context, g *Globals) error {
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	b, err := cl.CollectionRecord(ctx, c.Ref)
	if err != nil {
		return err
	}
	if c.Out == "" {
		_, err = fmt.Println(string(b))
		return err
	}
	return os.WriteFile(c.Out, b, 0o644)
}

type assetsImportCmd struct {
	File string `arg:"" help:"A record written by 'assets record'." type:"existingfile"`
}

func (c *assetsImportCmd) Run(ctx context.Context, g *Globals) error {
	b, err := os.ReadFile(c.File)
	if err != nil {
		return err
	}
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	v, err := cl.ImportRecord(ctx, []byte(strings.TrimSpace(string(b))))
	if err != nil {
		return err
	}
	fmt.Printf("stored %s\n%s\n", v.Ref, v.Listing)
	return nil
}

type assetsTorrentCmd struct {
	CID string `arg:"" help:"A stored asset's CID (or OWNER/NAME@VERSION)."`
	Out string `short:"o" required:"" help:"The .torrent file to write." type:"path" placeholder:"FILE"`
}

func (c *assetsTorrentCmd) Run(ctx context.Context, g *Globals) error {
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	b, err := cl.Torrent(ctx, c.CID)
	if err != nil {
		return err
	}
	if err := os.WriteFile(c.Out, b, 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s\n", c.Out)
	return nil
}

type assetsMagnetCmd struct {
	CID string `arg:"" help:"A stored asset's CID (or OWNER/NAME@VERSION)."`
}

func (c *assetsMagnetCmd) Run(ctx context.Context, g *Globals) error {
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	m, err := cl.Magnet(ctx, c.CID)
	if err != nil {
		return err
	}
	fmt.Println(m)
	return nil
}

type assetsAddTorrentCmd struct {
	File string `arg:"" help:"The .torrent file." type:"existingfile"`
	Data string `help:"The directory holding the torrent's files, as a BitTorrent client lays them out (default: the .torrent's directory)." type:"path" placeholder:"DIR"`
	JSON bool   `name:"json" help:"Print JSON."`
}

func (c *assetsAddTorrentCmd) Run(ctx context.Context, g *Globals) error {
	file, err := filepath.Abs(c.File)
	if err != nil {
		return err
	}
	data := c.Data
	if data == "" {
		data = filepath.Dir(file)
	}
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	a, err := cl.AddTorrent(ctx, gui.AddTorrentRequest{Torrent: file, Data: data})
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(a)
	}
	fmt.Printf("imported %s (%s, %d files)\n%s\n", a.Name, humanBytes(float64(a.Size)), a.Files, a.CID)
	return nil
}

type assetsStatsCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

func (c *assetsStatsCmd) Run(ctx context.Context, g *Globals) error {
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	st, err := cl.TransferStats(ctx)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(st)
	}
	fmt.Printf("uploaded %s, downloaded %s; seeding %d, fetching %d\n", humanBytes(float64(st.Uploaded)),
		humanBytes(float64(st.Downloaded)), st.Seeding, st.Fetching)
	if st.BTListen != "" {
		fmt.Printf("plain BitTorrent clients: %s\n", st.BTListen)
	}
	return nil
}
