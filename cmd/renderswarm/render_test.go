package main

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const demoScene = "../../examples/builtin/demo.scene"

func TestRenderCmdWritesFrames(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	var log bytes.Buffer
	c := &renderCmd{Scene: demoScene, Renderer: "builtin", Frames: "2,5", Resolution: "40x24",
		Samples: 2, Output: out, stderr: &log}
	if err := c.Run(t.Context(), &Globals{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"frame_0002.png", "frame_0005.png"} {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != 40 || cfg.Height != 24 {
			t.Errorf("%s: %dx%d, err %v; want 40x24", name, cfg.Width, cfg.Height, err)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 2 {
		t.Errorf("output dir holds %d files, want 2", len(entries))
	}
	for _, want := range []string{"frame 2  [1/2]", "frame 5  [2/2]", "rendered 2 frame(s) at 40x24, 2 samples"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("stderr %q lacks %q", log.String(), want)
		}
	}
}

func TestRenderCmdErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mod   func(*renderCmd)
		want  string
		usage bool
	}{
		{"unknown renderer", func(c *renderCmd) { c.Renderer = "cycles" }, `unknown renderer "cycles" (available: `, true},
		{"unknown renderer names the choices", func(c *renderCmd) { c.Renderer = "cycles" }, "builtin", true},
		{"bad resolution", func(c *renderCmd) { c.Resolution = "big" }, `--resolution: want WIDTHxHEIGHT such as 320x180, got "big"`, true},
		{"huge resolution", func(c *renderCmd) { c.Resolution = "99999x10" }, "--resolution: 99999x10 outside 1..16384 per side", true},
		{"bad frames", func(c *renderCmd) { c.Frames = "5-1" }, "--frames:", true},
		{"huge samples", func(c *renderCmd) { c.Samples = 1 << 20 }, "samples 1048576 outside 0..65536", true},
		{"bad seed", func(c *renderCmd) { c.Seed = -1 }, "--seed -1 outside", true},
		{"missing scene", func(c *renderCmd) { c.Scene = "nope/none.scene" }, "invalid scene: nope/none.scene: no such file or directory", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &renderCmd{Scene: demoScene, Renderer: "builtin", Output: t.TempDir(), stderr: &bytes.Buffer{}}
			tc.mod(c)
			err := c.Run(t.Context(), &Globals{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one line", err)
			}
			var ue usageError
			if errors.As(err, &ue) != tc.usage {
				t.Errorf("usage error = %v, want %v", !tc.usage, tc.usage)
			}
		})
	}
}

func TestRenderCmdInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	c := &renderCmd{Scene: demoScene, Renderer: "builtin", Output: t.TempDir(), stderr: &bytes.Buffer{}}
	err := c.Run(ctx, &Globals{})
	if err == nil || !strings.Contains(err.Error(), "interrupted at frame 1") {
		t.Errorf("err = %v, want an interruption at frame 1", err)
	}
}
