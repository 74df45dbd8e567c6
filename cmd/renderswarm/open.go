package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"time"

	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/node"
)

// openCmd opens the node's web app in the user's browser: what the
// desktop entry runs.
type openCmd struct {
	Print bool `help:"Print the web app's URL instead of opening a browser."`
}

// startWait bounds how long open waits for a node it had started.
const startWait = 60 * time.Second

func (c *openCmd) Run(ctx context.Context, g *Globals) error {
	home, err := node.ResolveHome(g.Home)
	if err != nil {
		return err
	}
	cl, err := gui.Dial(ctx, home)
	if errors.Is(err, gui.ErrNoNode) && runtime.GOOS == "linux" {
		// The unit renderswarm's package ships (or service install
		// wrote) starts the node under the user's systemd, logging to
		// the journal, without enabling it at login.
		if _, serr := exec.CommandContext(ctx, "systemctl", "--user", "start", "renderswarm.service").CombinedOutput(); serr == nil {
			cl, err = waitForNode(ctx, home, startWait)
		}
	}
	if err != nil {
		return err
	}
	id, err := cl.ID(ctx)
	if err != nil {
		return err
	}
	if c.Print {
		fmt.Println(id.GUI)
		return nil
	}
	argv := browserCommand(runtime.GOOS, id.GUI)
	if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("opening %s with %s: %v %s (open it in a browser yourself)", id.GUI, argv[0], err, out)
	}
	fmt.Println(id.GUI)
	return nil
}

// waitForNode waits, at most d, until a node answers on home.
func waitForNode(ctx context.Context, home string, d time.Duration) (*gui.Client, error) {
	deadline := time.Now().Add(d)
	for {
		cl, err := gui.Dial(ctx, home)
		if err == nil || time.Now().After(deadline) {
			return cl, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// browserCommand opens url in the user's default browser on goos.
func browserCommand(goos, url string) []string {
	switch goos {
	case "darwin":
		return []string{"open", url}
	case "windows":
		// start would go through cmd.exe, which reads & and ^ in a URL.
		return []string{"rundll32", "url.dll,FileProtocolHandler", url}
	default:
		return []string{"xdg-open", url}
	}
}
