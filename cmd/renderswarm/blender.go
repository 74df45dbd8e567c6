package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	rsblender "github.com/renderswarm/renderswarm/blender"
	"github.com/renderswarm/renderswarm/render"
	renderblender "github.com/renderswarm/renderswarm/render/blender"
)

// blenderCmd groups what renderswarm does for Blender users.
type blenderCmd struct {
	InstallAddon installAddonCmd `cmd:"" name:"install-addon" help:"Install the Blender add-on into the user's Blender add-on folder (or write it as a zip)."`
}

// installAddonCmd installs the add-on where Blender looks for the user's
// add-ons, as Blender itself reports that folder.
type installAddonCmd struct {
	Blender string `help:"The Blender whose add-on folder to use (default: blender on PATH or where installers put it)." placeholder:"PROGRAM"`
	Dir     string `help:"Install into this add-on folder instead of asking Blender." type:"path" placeholder:"DIR"`
	Zip     string `help:"Write the add-on as a zip for Edit > Preferences > Add-ons > Install instead." type:"path" placeholder:"FILE"`
}

func (c *installAddonCmd) Run(ctx context.Context) error {
	if c.Zip != "" {
		f, err := os.Create(c.Zip)
		if err != nil {
			return err
		}
		if err := rsblender.WriteZip(f); err != nil {
			f.Close()
			return fmt.Errorf("writing %s: %w", c.Zip, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Printf("wrote the add-on to %s: in Blender, Edit > Preferences > Add-ons > Install…, then enable \"renderswarm\"\n", c.Zip)
		return nil
	}
	dir := c.Dir
	if dir == "" {
		prog := c.Blender
		if prog == "" {
			prog = render.FindProgram("blender", renderblender.InstallPaths(runtime.GOOS, os.Getenv, filepath.Glob))
		}
		if prog == "" {
			return fmt.Errorf("blender not found: pass --blender PROGRAM or --dir DIR (or --zip FILE to install from Blender)")
		}
		var err error
		if dir, err = rsblender.AddonsDir(ctx, prog); err != nil {
			return err
		}
	}
	dst, err := rsblender.Install(dir)
	if err != nil {
		return err
	}
	fmt.Printf("installed the add-on in %s\nenable it in Blender: Edit > Preferences > Add-ons, search \"renderswarm\"; its panel is in the Render properties\n", dst)
	return nil
}
