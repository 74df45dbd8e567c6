package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
)

type creditsCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

func (c *creditsCmd) Run(ctx context.Context, g *Globals) error {
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	r, err := cl.Credits(ctx)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(r)
	}
	fmt.Printf("balance %.1f CU (earned %.1f, spent %.1f)\n", r.Balance.Balance, r.Earned, r.Spent)
	if len(r.Receipts) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tROLE\tCU\tCOUNTERPART\tTASK")
	for _, e := range r.Receipts {
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%s\n", e.Issued.Local().Format("Jan 02 15:04:05"), e.Role, e.CU, e.Counterpart, e.Task)
	}
	return tw.Flush()
}
