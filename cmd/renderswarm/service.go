package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/internal/autostart"
	"github.com/renderswarm/renderswarm/node"
)

// serviceCmd sets up the node's start at login for the current user.
type serviceCmd struct {
	Install   serviceInstallCmd   `cmd:"" help:"Start the node at every login of this user (no root needed), and now."`
	Uninstall serviceUninstallCmd `cmd:"" help:"Stop the node started at login and stop starting it."`
	Status    serviceStatusCmd    `cmd:"" help:"Whether the node starts at login, and whether it runs."`
}

type serviceInstallCmd struct {
	NoStart bool `help:"Only set up the start at login; do not start the node now."`
}

type serviceUninstallCmd struct{}

type serviceStatusCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

// logFileName is where, in its home, a node started at login logs on
// systems with no journal.
const logFileName = "node.log"

// serviceEntry is what starts at login: this very binary, on the home
// given by --home or $RENDERSWARM_HOME (else the default home), logging to
// the home's node.log where there is no journal.
func serviceEntry(g *Globals) (autostart.Entry, string, error) {
	prog, err := os.Executable()
	if err != nil {
		return autostart.Entry{}, "", fmt.Errorf("finding this program: %w", err)
	}
	if strings.Contains(prog, string(filepath.Separator)+"go-build") {
		return autostart.Entry{}, "", errors.New("renderswarm runs from Go's build cache (go run): build or install it first, then run its service install")
	}
	home, err := node.ResolveHome(g.Home)
	if err != nil {
		return autostart.Entry{}, "", err
	}
	e := autostart.Entry{Program: prog}
	if g.Home != "" {
		e.Home = home
	}
	if runtime.GOOS != "linux" {
		e.LogFile = filepath.Join(home, logFileName)
	}
	return e, home, nil
}

func (c *serviceInstallCmd) Run(ctx context.Context, g *Globals) error {
	e, home, err := serviceEntry(g)
	if err != nil {
		return err
	}
	m, err := autostart.ForSystem()
	if err != nil {
		return err
	}
	start := !c.NoStart
	// On Windows a second node on the home would only exit again; systemd
	// and launchd restart the node they started themselves.
	if start && runtime.GOOS == "windows" && nodeRunning(ctx, home) {
		fmt.Println("a node already runs on", home+": the installed one starts at the next login")
		start = false
	}
	notes, err := m.Install(ctx, e, start)
	if err != nil {
		return err
	}
	st, _ := m.Status(ctx)
	fmt.Printf("installed: %s (%s)\n", st.Where, st.System)
	for _, n := range notes {
		fmt.Println(n)
	}
	if st.Log != "" {
		fmt.Println("log:", st.Log)
	}
	return nil
}

func (c *serviceUninstallCmd) Run(ctx context.Context, _ *Globals) error {
	m, err := autostart.ForSystem()
	if err != nil {
		return err
	}
	st, _ := m.Status(ctx)
	notes, err := m.Uninstall(ctx)
	if err != nil {
		return err
	}
	if st.Installed {
		fmt.Println("removed:", st.Where)
	}
	for _, n := range notes {
		fmt.Println(n)
	}
	return nil
}

// serviceStatus is `service status --json`.
type serviceStatus struct {
	autostart.Status
	Home    string `json:"home"`
	NodeGUI string `json:"node_gui,omitempty"` // the GUI of a node answering on the home
}

func (c *serviceStatusCmd) Run(ctx context.Context, g *Globals) error {
	m, err := autostart.ForSystem()
	if err != nil {
		return err
	}
	st, err := m.Status(ctx)
	if err != nil {
		return err
	}
	home, err := node.ResolveHome(g.Home)
	if err != nil {
		return err
	}
	out := serviceStatus{Status: st, Home: home}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if cl, err := gui.Dial(dctx, home); err == nil {
		if id, err := cl.ID(dctx); err == nil {
			out.NodeGUI = id.GUI
		}
	}
	if c.JSON {
		return printJSON(out)
	}
	if !st.Installed {
		fmt.Printf("start at login: not installed (%s: %s)\n", st.System, st.Where)
	} else {
		fmt.Printf("start at login: installed (%s: %s)\n", st.System, st.Where)
		fmt.Println("starts:", st.Command)
		fmt.Println("enabled:", st.Enabled)
		fmt.Println("service:", st.Running)
		if st.Log != "" {
			fmt.Println("log:", st.Log)
		}
	}
	if out.NodeGUI != "" {
		fmt.Printf("node on %s: running, web app %s\n", home, out.NodeGUI)
	} else {
		fmt.Printf("node on %s: not running\n", home)
	}
	return nil
}

// nodeRunning reports whether a node answers on home.
func nodeRunning(ctx context.Context, home string) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := gui.Dial(ctx, home)
	return err == nil
}
