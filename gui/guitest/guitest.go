// Package guitest drives the web app in a real headless Chromium for tests:
// Browser starts one, Screenshot keeps what it showed.
//
// It must not import gui (gui's tests import it) nor anything of the node.
package guitest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// DefaultChromium is where Debian's chromium package puts the browser;
// RENDERSWARM_CHROMIUM overrides it.
const DefaultChromium = "/usr/bin/chromium"

// BrowserLifetime bounds everything one Browser does, so that a hung page
// or browser fails the test instead of hanging it.
const BrowserLifetime = 3 * time.Minute

// Browser starts a headless Chromium with a fresh profile under t.TempDir()
// and a 1366x768 window, and returns a chromedp context for its first tab;
// more tabs come from chromedp.NewContext on it. The browser stops when
// the test ends. Without Chromium the test is skipped, or failed when
// RENDERSWARM_REQUIRE_RENDERERS=1 (CI).
func Browser(t testing.TB) context.Context {
	t.Helper()
	path := os.Getenv("RENDERSWARM_CHROMIUM")
	if path == "" {
		path = DefaultChromium
	}
	if _, err := exec.LookPath(path); err != nil {
		msg := "Chromium not found at " + path + " (apt-get install chromium, or set RENDERSWARM_CHROMIUM)"
		if os.Getenv("RENDERSWARM_REQUIRE_RENDERERS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 768),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// Without these Chromium waits on the network it would reach for
		// updates, sync and QUIC probes, and hangs on a closed machine.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
	}
	life, stop := context.WithTimeout(context.Background(), BrowserLifetime)
	actx, cancelAlloc := chromedp.NewExecAllocator(life, opts...)
	ctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		stop()
	})
	// The first Run starts the browser; it lives as long as ctx.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium (%s): %v", path, err)
	}
	return ctx
}

// Screenshot saves a full-page PNG of ctx's tab as name.png under
// $RENDERSWARM_ARTIFACTS, by default test-artifacts/screenshots/ at the
// root of the module, and logs where.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	dir := os.Getenv("RENDERSWARM_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(moduleRoot(t), "test-artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

// moduleRoot is the nearest directory above the working directory holding
// go.mod.
func moduleRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}
