package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/node"
)

type demoCmd struct {
	Out     string `help:"Where to write the frames, contact sheet and preview." default:"renderswarm-demo" type:"path" placeholder:"DIR"`
	Nodes   int    `help:"Nodes in the local swarm (one publisher, the rest volunteers)." default:"4" placeholder:"N"`
	Frames  string `help:"Frames of the demo animation to render (default: all 24)." placeholder:"SPEC"`
	Verbose bool   `short:"v" help:"Log what every node does."`
}

func (c *demoCmd) Run(ctx context.Context, g *Globals) error {
	fmt.Fprintf(os.Stderr, "starting a swarm of %d nodes on 127.0.0.1 (1 publisher, %d volunteers)…\n", c.Nodes, c.Nodes-1)
	bar := newProgressBar(os.Stderr)
	var log *slog.Logger
	if c.Verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	res, err := node.Demo(ctx, node.DemoConfig{
		Out: c.Out, Nodes: c.Nodes, Frames: c.Frames, Logger: log,
		Progress: func(s gui.JobStatus) { bar.line(jobLine(s)) },
	})
	bar.finish()
	if err != nil {
		return err
	}
	fmt.Printf("job %s: %d frames rendered twice each and verified in %v\n",
		res.Job, len(res.Frames), res.Elapsed.Round(100*time.Millisecond))
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tACCEPTED\tEARNED CU\tSPENT CU\tBALANCE CU")
	for _, n := range res.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%.1f\t%.1f\n", n.PeerID, n.Role, n.Accepted,
			float64(n.Earned)/1000, float64(n.Spent)/1000, float64(n.Balance)/1000)
	}
	tw.Flush()
	fmt.Printf("frames:        %s\n", filepath.Dir(res.Frames[0]))
	fmt.Printf("contact sheet: %s\n", res.Sheet)
	fmt.Printf("preview:       %s\n", res.Preview)
	fmt.Println(filepath.Clean(c.Out))
	return nil
}
