package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/renderswarm/renderswarm/gui"
)

type publishCmd struct {
	Scene      string   `arg:"" help:"The scene's main file." type:"existingfile"`
	Root       string   `help:"Project folder: pack every file the scene uses inside it (linked libraries and their files too), keeping the layout; default: the scene's folder." type:"existingdir" placeholder:"DIR"`
	Renderer   string   `help:"builtin, blender or povray." default:"builtin"`
	Frames     string   `help:"Frames, e.g. 1-250, 1-250x5, 1,5,9-12 (default: the scene's own)." placeholder:"SPEC"`
	First      string   `help:"Frames to render and verify before all others, e.g. a test frame." placeholder:"SPEC"`
	Replicas   int      `help:"Agreeing results needed per frame (1: adaptive)." default:"2"`
	Resolution string   `help:"WIDTHxHEIGHT (default: the scene's own)." placeholder:"WxH"`
	Samples    int      `help:"Samples per pixel (default: the scene's own)." placeholder:"N"`
	Tiles      int      `help:"Split every frame into N horizontal bands rendered by different volunteers." placeholder:"N"`
	Title      string   `help:"A name for the job."`
	Extra      []string `help:"Also deliver each frame in this format, beside the verified PNG: exr (OpenEXR, half float; Blender). Bound to the PNG by its commitment, not compared pixel by pixel." placeholder:"FORMAT" enum:"exr"`
	TimeLimit  string   `help:"Longest one frame (or tile) may render on a volunteer before it counts as failed." default:"1h" placeholder:"DUR"`
	Wait       bool     `help:"Show progress until every frame is verified; exit 0 only then."`
	JSON       bool     `name:"json" help:"Print JSON."`
}

func (c *publishCmd) Run(ctx context.Context, g *Globals) error {
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	st, err := cl.Publish(ctx, gui.PublishRequest{
		Scene: c.Scene, Root: c.Root, Renderer: c.Renderer, Frames: c.Frames, First: c.First, Replicas: c.Replicas,
		Resolution: c.Resolution, Samples: c.Samples, Tiles: c.Tiles, Title: c.Title,
		TimeLimit: c.TimeLimit, Outputs: c.Extra,
	})
	if err != nil {
		return err
	}
	if c.Wait {
		if st, err = waitJob(ctx, cl, st.ID); err != nil {
			return err
		}
	}
	if c.JSON {
		return printJSON(st)
	}
	if !c.Wait {
		fmt.Fprintf(os.Stderr, "published %s: %d tasks, replicas %d\n", st.Title, st.Frames.Total, c.Replicas)
	}
	fmt.Println(st.ID)
	return nil
}

// waitJob shows a job's progress until it ends; an error unless every frame
// was verified.
func waitJob(ctx context.Context, cl *gui.Client, id string) (gui.JobStatus, error) {
	bar := newProgressBar(os.Stderr)
	defer bar.finish()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		st, err := cl.Status(ctx, id)
		if err != nil {
			return st, err
		}
		bar.line(jobLine(st))
		switch st.State {
		case "completed":
			return st, nil
		case "failed", "canceled":
			return st, fmt.Errorf("job %s %s: %d of %d verified, %d failed", id, st.State,
				st.Frames.Verified, st.Frames.Total, st.Frames.Failed)
		}
		select {
		case <-ctx.Done():
			return st, errors.New("stopped waiting; the job goes on (renderswarm status " + id + ")")
		case <-t.C:
		}
	}
}

// jobLine renders e.g. "running [#####.......] 4/12 verified  2 rendering  ETA 8s".
func jobLine(st gui.JobStatus) string {
	f := st.Frames
	frac := 0.0
	if f.Total > 0 {
		frac = float64(f.Verified) / float64(f.Total)
	}
	const width = 24
	n := int(frac * width)
	eta := "--"
	if st.ETASeconds > 0 {
		eta = (time.Duration(st.ETASeconds) * time.Second).Round(time.Second).String()
	}
	line := fmt.Sprintf("%s [%s%s] %d/%d verified  %d rendering  ETA %s", st.State,
		strings.Repeat("#", n), strings.Repeat(".", width-n), f.Verified, f.Total, f.Rendering, eta)
	if f.Failed > 0 {
		line += fmt.Sprintf("  %d failed", f.Failed)
	}
	return line
}

type jobsCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

func (c *jobsCmd) Run(ctx context.Context, g *Globals) error {
	return listing[gui.JobStatus]{
		fetch:  (*gui.Client).Jobs,
		none:   "no jobs",
		header: "JOB\tTITLE\tROLE\tSTATE\tVERIFIED\tRENDERER",
		row: func(j gui.JobStatus) string {
			role := "seen"
			if j.Mine {
				role = "mine"
			}
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%d/%d\t%s", j.ID, j.Title, role, j.State, j.Frames.Verified, j.Frames.Total, j.Renderer)
		},
	}.print(ctx, g, c.JSON)
}

type statusCmd struct {
	Job  string `arg:"" help:"Job ID."`
	JSON bool   `name:"json" help:"Print JSON."`
}

func (c *statusCmd) Run(ctx context.Context, g *Globals) error {
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	st, err := cl.Status(ctx, c.Job)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(st)
	}
	fmt.Printf("%s  %s\n%s\n", st.ID, st.Title, jobLine(st))
	for _, e := range st.Errors {
		peer := e.Peer
		if len(peer) > 12 {
			peer = "…" + peer[len(peer)-8:]
		}
		fmt.Printf("  frame %d tile %d failed on %s: %s\n", e.Frame, e.Tile, peer, e.Reason)
	}
	return nil
}

type controlCmd struct {
	Job string `arg:"" help:"Job ID."`
}

type pauseCmd struct{ controlCmd }
type resumeCmd struct{ controlCmd }
type cancelCmd struct{ controlCmd }

func (c *pauseCmd) Run(ctx context.Context, g *Globals) error  { return c.do(ctx, g, "pause") }
func (c *resumeCmd) Run(ctx context.Context, g *Globals) error { return c.do(ctx, g, "resume") }
func (c *cancelCmd) Run(ctx context.Context, g *Globals) error { return c.do(ctx, g, "cancel") }

func (c *controlCmd) do(ctx context.Context, g *Globals, action string) error {
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	if err := cl.Control(ctx, c.Job, action); err != nil {
		return err
	}
	st, err := cl.Status(ctx, c.Job)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %s\n", c.Job, st.State)
	return nil
}

type fetchCmd struct {
	Job string `arg:"" help:"Job ID."`
	Out string `short:"o" required:"" help:"Directory for frame_NNNN.png files." type:"path" placeholder:"DIR"`
}

func (c *fetchCmd) Run(ctx context.Context, g *Globals) error {
	cl, err := dial(ctx, g)
	if err != nil {
		return err
	}
	res, err := cl.Fetch(ctx, c.Job, c.Out)
	if err != nil {
		return err
	}
	var pngs, others []string
	for _, w := range res.Written {
		if strings.EqualFold(filepath.Ext(w), ".png") {
			pngs = append(pngs, w)
		} else {
			others = append(others, filepath.Base(w))
		}
	}
	fmt.Printf("wrote %d verified frames to %s\n", len(pngs), filepath.Clean(c.Out))
	if len(others) > 0 {
		// Tell the artist plainly what was checked and what rode along.
		fmt.Printf("verified pixel by pixel: the PNGs; delivered with them, bound by the same commitment but not verified: %s\n",
			strings.Join(others, ", "))
	}
	if len(res.Missing) > 0 {
		return fmt.Errorf("%d frames are not verified yet (first: %d)", len(res.Missing), res.Missing[0])
	}
	return nil
}
