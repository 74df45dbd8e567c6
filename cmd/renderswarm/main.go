// Command renderswarm is the volunteer render grid's one binary: `node` runs
// a node; every other subcommand but `render` and `demo` is a client of the
// running node's local HTTP API.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
)

// Globals are the flags every subcommand shares.
type Globals struct {
	Home string `help:"Node home directory (identity, config, database, assets)." env:"RENDERSWARM_HOME" type:"path" placeholder:"DIR"`
}

// CLI is the whole command-line surface; CONTRACT.md is its specification.
type CLI struct {
	Globals

	Node   nodeCmd   `cmd:"" help:"Run the node: volunteer, publisher, asset seeder and web app, until interrupted."`
	ID     idCmd     `cmd:"" name:"id" help:"Show the running node's identity and addresses."`
	Peers  peersCmd  `cmd:"" help:"List connected peers."`
	Assets assetsCmd `cmd:"" help:"Share folders by CID: add, get, ls, pin, unpin."`

	Publish publishCmd `cmd:"" help:"Pack a scene, sign and announce a render job; prints the job ID."`
	Jobs    jobsCmd    `cmd:"" help:"Jobs this node published and jobs it has seen announced."`
	Status  statusCmd  `cmd:"" help:"One job's state and progress."`
	Pause   pauseCmd   `cmd:"" help:"Pause a job this node published."`
	Resume  resumeCmd  `cmd:"" help:"Resume a paused job."`
	Cancel  cancelCmd  `cmd:"" help:"Cancel a job this node published."`
	Fetch   fetchCmd   `cmd:"" help:"Write a job's verified frames as DIR/frame_NNNN.png."`
	Credits creditsCmd `cmd:"" help:"This node's ledger: compute units earned and spent."`
	Render  renderCmd  `cmd:"" help:"Render frames locally, with no network."`
	Demo    demoCmd    `cmd:"" help:"Run a local swarm that renders the built-in demo scene with verification."`
	Blender blenderCmd `cmd:"" help:"Blender integration: install-addon."`

	Service     serviceCmd  `cmd:"" help:"Start the node at login for this user: install, uninstall, status."`
	Open        openCmd     `cmd:"" help:"Open the node's web app in the browser (starting the node through systemd on Linux if needed)."`
	Version     versionCmd  `cmd:"" help:"Show this binary's version, its Go version and the renderers found with their versions."`
	VersionFlag versionFlag `name:"version" help:"Show the version (as the version command) and exit."`
}

func main() {
	var cli CLI
	parser := kong.Must(&cli,
		kong.Name("renderswarm"),
		kong.Description("A volunteer render grid with no central server."),
	)
	kctx, err := parser.Parse(os.Args[1:])
	if err != nil {
		// Bad usage: say what is wrong in one line and how to get help.
		fmt.Fprintf(os.Stderr, "renderswarm: %v (see renderswarm --help)\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kctx.BindTo(ctx, (*context.Context)(nil))
	err = kctx.Run(&cli.Globals)
	if err == nil {
		return
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(os.Stderr, "renderswarm:", err)
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, "renderswarm:", err)
	os.Exit(1)
}

// usageError marks an error as bad usage (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }
