package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/alecthomas/kong"

	"github.com/renderswarm/renderswarm/node"
)

// version and commit are the release this binary was built as and the
// commit it was built from, stamped by dist/build with -ldflags "-X
// main.version=… -X main.commit=…"; empty in a plain go build, which may
// record the commit itself (-buildvcs).
var version, commit string

// versionCmd prints what this binary is and what it can render with.
type versionCmd struct{}

func (versionCmd) Run(ctx context.Context) error {
	return printVersion(ctx, os.Stdout)
}

// versionFlag is --version: the same lines as the version command.
type versionFlag bool

// BeforeReset prints the version and exits before any command runs.
func (versionFlag) BeforeReset(app *kong.Kong) error {
	if err := printVersion(context.Background(), app.Stdout); err != nil {
		return err
	}
	app.Exit(0)
	return nil
}

// printVersion writes one line each: the binary's version (and the commit
// it was built from), the Go version and target, and every renderer with
// its exact version or why it is missing.
func printVersion(ctx context.Context, w io.Writer) error {
	fmt.Fprintln(w, "renderswarm", binaryVersion())
	if commit != "" {
		fmt.Fprintln(w, "commit", commit)
	} else if rev := buildSetting("vcs.revision"); rev != "" {
		if buildSetting("vcs.modified") == "true" {
			rev += " (modified)"
		}
		fmt.Fprintln(w, "commit", rev)
	}
	fmt.Fprintln(w, "go", runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, r := range node.ProbeRenderers(ctx) {
		switch {
		case r.Problem != "":
			fmt.Fprintf(w, "renderer %s not available: %s\n", r.Name, r.Problem)
		case r.Program != "":
			fmt.Fprintf(w, "renderer %s %s (%s)\n", r.Name, r.Version, r.Program)
		default:
			fmt.Fprintf(w, "renderer %s %s\n", r.Name, r.Version)
		}
	}
	return nil
}

// binaryVersion is the stamped version, else the module's version as the
// go command recorded it ("(devel)" for a build from a work tree).
func binaryVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// buildSetting is one of the settings the go command recorded, "" if none.
func buildSetting(key string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}
