package main

import (
	"bytes"
	"context"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestVersionLines(t *testing.T) {
	old := version
	version, commit = "v9.8.7", "0123abc"
	defer func() { version, commit = old, "" }()
	var b bytes.Buffer
	if err := printVersion(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := []string{"renderswarm v9.8.7", "commit 0123abc", "go " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if len(lines) < len(want)+3 || !slices.Equal(lines[:3], want) {
		t.Fatalf("version lines:\n%s\nwant first %q, then a line per renderer", b.String(), want)
	}
	for _, r := range []string{"blender", "builtin", "povray"} {
		found := false
		for _, l := range lines[3:] {
			found = found || strings.HasPrefix(l, "renderer "+r+" ")
		}
		if !found {
			t.Errorf("no line for renderer %s:\n%s", r, b.String())
		}
	}
	if !strings.Contains(b.String(), "renderer builtin 1.") {
		t.Errorf("the built-in renderer's version is missing:\n%s", b.String())
	}
}

func TestBrowserCommand(t *testing.T) {
	url := "http://127.0.0.1:27492/?a=1&b=2"
	for goos, want := range map[string][]string{
		"linux":   {"xdg-open", url},
		"freebsd": {"xdg-open", url},
		"darwin":  {"open", url},
		"windows": {"rundll32", "url.dll,FileProtocolHandler", url},
	} {
		if got := browserCommand(goos, url); !slices.Equal(got, want) {
			t.Errorf("%s: %q; want %q", goos, got, want)
		}
	}
}
