package gui

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/renderswarm/renderswarm/gui/guitest"
)

// colorScheme makes the page see prefers-color-scheme: scheme.
func colorScheme(t *testing.T, ctx context.Context, scheme string) {
	run(t, ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	}))
}

// waitTimeout bounds one wait for the page or the backend.
const waitTimeout = 10 * time.Second

func setUp(t *testing.T, ctx context.Context)            { guitest.Prepare(t, ctx) }
func open(t *testing.T, ctx context.Context, url string) { guitest.Open(t, ctx, url) }
func showTab(t *testing.T, ctx context.Context, name string) {
	guitest.ShowTab(t, ctx, name)
}
func run(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	guitest.Run(t, ctx, steps...)
}
func waitPage(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	guitest.WaitPage(t, ctx, expr, waitTimeout)
}

// waitBackend waits until cond holds for the fake backend.
func waitBackend(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitTimeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("the backend never saw %s", what)
		}
	}
}

func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests start Chromium")
	}
	b := newBackend()
	s := b.server(t)
	s.tick = 100 * time.Millisecond
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close) // after the browser, which holds event streams open
	// One tab for all: chromedp's later tabs hang on their second page.
	ctx := guitest.Browser(t)
	setUp(t, ctx)
	colorScheme(t, ctx, "light")

	t.Run("overview shows the node and follows the swarm", func(t *testing.T) {
		open(t, ctx, ts.URL+"/")
		waitPage(t, ctx, `document.getElementById('peer-id').textContent === '12D3KooWTest' &&
			document.getElementById('peer-count').textContent === '1'`)
		waitPage(t, ctx, `document.getElementById('renders').textContent.includes("Someone's film") &&
			document.getElementById('preview').naturalWidth === 32 && !document.getElementById('preview-box').hidden`)
		guitest.Screenshot(t, ctx, "overview-light")
		b.node.setPeers(append(b.node.Peers(), Peer{PeerID: "12D3KooWNew", State: "relayed"}))
		waitPage(t, ctx, `document.getElementById('peer-count').textContent === '2'`)
		peers := b.node.Peers()
		b.node.setPeers(nil)
		waitPage(t, ctx, `document.getElementById('peers').textContent.includes('No peers yet')`)
		b.node.setPeers(peers)
	})

	t.Run("publish from the form", func(t *testing.T) {
		open(t, ctx, ts.URL+"/#jobs")
		run(t, ctx, chromedp.SendKeys(chromedp.ID("pub-scene"), "/home/u/scenes/cube.pov"),
			chromedp.SetValue(chromedp.ID("pub-title"), "Cube test"),
			chromedp.SetValue(chromedp.ID("pub-renderer"), "povray"),
			chromedp.SetValue(chromedp.ID("pub-frames"), "1-4"),
			chromedp.SetValue(chromedp.ID("pub-replicas"), "3"),
			chromedp.SetValue(chromedp.ID("pub-resolution"), "640x480"),
			chromedp.SetValue(chromedp.ID("pub-samples"), "8"),
			chromedp.SetValue(chromedp.ID("pub-tiles"), "2"),
			chromedp.SetValue(chromedp.ID("pub-timelimit"), "90s"),
			chromedp.Click(chromedp.ID("pub-submit")))
		want := PublishRequest{Scene: "/home/u/scenes/cube.pov", Title: "Cube test", Renderer: "povray", Frames: "1-4",
			Replicas: 3, Resolution: "640x480", Samples: 8, Tiles: 2, TimeLimit: "90s"}
		waitBackend(t, "the publish request", func() bool {
			b.jobs.mu.Lock()
			defer b.jobs.mu.Unlock()
			return len(b.jobs.published) > 0
		})
		if got := b.jobs.published[0]; !reflect.DeepEqual(got, want) {
			t.Fatalf("published %+v, want %+v", got, want)
		}
		waitPage(t, ctx, `document.querySelector('[data-job="job-3"] .title')?.textContent === 'Cube test'`)
	})

	t.Run("scene chosen with the file browser", func(t *testing.T) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "scenes"), 0o755)
		os.WriteFile(filepath.Join(dir, "scenes", "cube.pov"), []byte("sphere{}"), 0o644)
		open(t, ctx, ts.URL+"/#jobs")
		run(t, ctx, chromedp.SetValue(chromedp.ID("pub-scene"), dir+"/nothing-yet"), chromedp.Click(chromedp.ID("pub-browse")))
		waitPage(t, ctx, `document.getElementById('browser').open && document.getElementById('br-path').textContent === '`+dir+`'`)
		clickEntry := func(name string) {
			waitPage(t, ctx, `[...document.querySelectorAll('#br-list li')].some((l) => l.firstChild.textContent === '`+name+`')`)
			guitest.Eval[bool](t, ctx, `[...document.querySelectorAll('#br-list li')].find((l) => l.firstChild.textContent === '`+name+`').click() === undefined`)
		}
		clickEntry("scenes")
		waitPage(t, ctx, `document.getElementById('br-path').textContent.endsWith('/scenes')`)
		guitest.Screenshot(t, ctx, "browse-light")
		clickEntry("cube.pov")
		waitPage(t, ctx, `!document.getElementById('browser').open &&
			document.getElementById('pub-scene').value === '`+filepath.Join(dir, "scenes", "cube.pov")+`'`)
	})

	t.Run("collections: versions with what changed, follow, publish", func(t *testing.T) {
		open(t, ctx, ts.URL+"/#assets")
		waitPage(t, ctx, `document.querySelector('[data-coll="textures"]')?.textContent.includes('v2')`)
		guitest.Eval[bool](t, ctx, `[...document.querySelectorAll('[data-coll="textures"] button')].find((b) => b.textContent === 'Versions').click() === undefined`)
		waitPage(t, ctx, `document.querySelector('[data-version="2"]')?.textContent.includes('wood/albedo.png') &&
			document.querySelector('[data-version="1"]')?.textContent.includes('first version')`)
		guitest.Screenshot(t, ctx, "collections-light")
		guitest.Eval[bool](t, ctx, `[...document.querySelectorAll('[data-coll="textures"] button')].find((b) => b.textContent === 'Follow').click() === undefined`)
		waitBackend(t, "the follow", func() bool {
			b.colls.mu.Lock()
			defer b.colls.mu.Unlock()
			return b.colls.follows[fakeOwner+"/textures"]
		})
		waitPage(t, ctx, `[...document.querySelectorAll('[data-coll="textures"] button')].some((b) => b.textContent === 'Unfollow')`)
		run(t, ctx, chromedp.SetValue(chromedp.ID("coll-name"), "props"), chromedp.SetValue(chromedp.ID("coll-dir"), "/home/u/props"),
			chromedp.Click(chromedp.CSS(`#coll-publish button[type=submit]`)))
		waitPage(t, ctx, `document.getElementById('coll-pub-msg').textContent.includes('props v2')`)
		b.colls.mu.Lock()
		if len(b.colls.published) != 1 || b.colls.published[0] != (PublishCollectionRequest{Name: "props", Dir: "/home/u/props"}) {
			t.Errorf("published %+v", b.colls.published)
		}
		b.colls.mu.Unlock()
	})

	t.Run("assets: share a folder, fetch by CID with progress", func(t *testing.T) {
		open(t, ctx, ts.URL+"/#assets")
		waitPage(t, ctx, `document.getElementById('asset-list').textContent.includes('textures')`)
		run(t, ctx, chromedp.SetValue(chromedp.ID("asset-path"), "/home/u/textures"),
			chromedp.Click(chromedp.CSS(`#asset-add button[type=submit]`)))
		waitPage(t, ctx, `document.getElementById('asset-add-msg').textContent.includes('bafyadded')`)
		b.assets.mu.Lock()
		if len(b.assets.added) != 1 || b.assets.added[0][0] != "/home/u/textures" {
			t.Errorf("added %v", b.assets.added)
		}
		b.assets.mu.Unlock()
		run(t, ctx, chromedp.SetValue(chromedp.ID("asset-cid"), "bafyget"),
			chromedp.Click(chromedp.CSS(`#asset-get button[type=submit]`)))
		waitPage(t, ctx, `document.getElementById('asset-get-msg').textContent.includes('Fetched scene') &&
			document.getElementById('asset-get-progress').value === 1`)
		guitest.Screenshot(t, ctx, "assets-light")
	})

	t.Run("frame grid shows verified frames", func(t *testing.T) {
		open(t, ctx, ts.URL+"/#jobs")
		run(t, ctx, chromedp.Click(chromedp.CSS(`[data-job="job-1"] button.frames-toggle`)))
		waitPage(t, ctx, `[...document.querySelectorAll('[data-job="job-1"] .frame.verified img')]
			.filter((i) => i.complete && i.naturalWidth === 16).length === 2`)
		waitPage(t, ctx, `document.querySelector('[data-job="job-1"] .frame.failed').title.includes('segfault') &&
			document.querySelector('[data-job="job-1"] .frame.rendering .fill').style.width === '40%' &&
			document.querySelector('[data-job="job-1"] .errors').textContent.includes('segfault')`)
		guitest.Screenshot(t, ctx, "jobs-light")
		run(t, ctx, chromedp.Click(chromedp.CSS(`[data-job="job-1"] .frame[data-frame="1"]`)))
		waitPage(t, ctx, `document.getElementById('viewer').open && document.getElementById('viewer-img').naturalWidth === 64`)
	})

	t.Run("pause and resume a job", func(t *testing.T) {
		open(t, ctx, ts.URL+"/#jobs")
		pause := `[data-job="job-1"] .actions button:nth-child(2)`
		waitPage(t, ctx, `document.querySelector('`+pause+`').textContent === 'Pause'`)
		run(t, ctx, chromedp.Click(chromedp.CSS(pause)))
		waitPage(t, ctx, `document.querySelector('[data-job="job-1"] .badge').textContent === 'paused' &&
			document.querySelector('`+pause+`').textContent === 'Resume'`)
		run(t, ctx, chromedp.Click(chromedp.CSS(pause)))
		waitPage(t, ctx, `document.querySelector('[data-job="job-1"] .badge').textContent === 'running'`)
		b.jobs.mu.Lock()
		defer b.jobs.mu.Unlock()
		if !slices.Equal(b.jobs.controls, []string{"job-1 pause", "job-1 resume"}) {
			t.Fatalf("controls %q, want pause then resume", b.jobs.controls)
		}
	})

	t.Run("block a publisher from network jobs", func(t *testing.T) {
		open(t, ctx, ts.URL+"/#network")
		run(t, ctx, chromedp.Click(chromedp.CSS(`button.block-publisher`)))
		waitBackend(t, "the blocked publisher", func() bool {
			s, _ := b.volunteer.lastUpdate()
			return slices.Contains(s.BlockedPublishers, "12D3KooWStranger")
		})
		guitest.Screenshot(t, ctx, "network-light")
	})

	t.Run("settings change the core count", func(t *testing.T) {
		open(t, ctx, ts.URL+"/#settings")
		waitPage(t, ctx, `!document.getElementById('set-form').hidden && document.getElementById('set-blocked').textContent.includes('12D3KooWStranger')`)
		run(t, ctx, chromedp.SetValue(chromedp.ID("set-cpus"), "1"))
		guitest.Eval[bool](t, ctx, `document.getElementById('set-cpus').dispatchEvent(new Event('change'))`)
		waitBackend(t, "cpus=1", func() bool { s, _ := b.volunteer.lastUpdate(); return s.CPUs == 1 })
		if s, _ := b.volunteer.lastUpdate(); !slices.Equal(s.BlockedPublishers, []string{"12D3KooWStranger"}) {
			t.Errorf("saving the cores lost the block list: %+v", s)
		}
		waitPage(t, ctx, `document.getElementById('set-msg').textContent.includes('Saved') &&
			document.getElementById('set-cpus-range').value === '1'`)
		run(t, ctx, chromedp.Click(chromedp.CSS(`input[name=mode][value=schedule]`)))
		waitBackend(t, "the schedule", func() bool {
			s, _ := b.volunteer.lastUpdate()
			return s.Mode == ModeSchedule && s.Schedule == "22:00-07:00" && s.CPUs == 1
		})
		guitest.Screenshot(t, ctx, "settings-light")
		open(t, ctx, ts.URL+"/#settings")
		waitPage(t, ctx, `document.getElementById('set-cpus').value === '1'`)
	})

	t.Run("sandbox state and the unsandboxed opt-in", func(t *testing.T) {
		open(t, ctx, ts.URL+"/")
		waitPage(t, ctx, `document.getElementById('sandbox-state').textContent.includes('not working (blender: bubblewrap') &&
			document.getElementById('sandbox-state').textContent.includes('not rendered')`)
		open(t, ctx, ts.URL+"/#settings")
		waitPage(t, ctx, `document.getElementById('set-renderers').textContent.includes('no sandbox: not offered') &&
			!document.getElementById('set-unsandboxed').checked &&
			document.querySelector('p.warning').textContent.includes('read your files')`)
		run(t, ctx, chromedp.Click(chromedp.ID("set-unsandboxed")))
		waitBackend(t, "allow_unsandboxed", func() bool { s, _ := b.volunteer.lastUpdate(); return s.AllowUnsandboxed })
		waitPage(t, ctx, `document.getElementById('set-renderers').textContent.includes("renders strangers' scenes unsandboxed")`)
		run(t, ctx, chromedp.SetValue(chromedp.ID("set-memory"), "2"))
		guitest.Eval[bool](t, ctx, `document.getElementById('set-memory').dispatchEvent(new Event('change'))`)
		waitBackend(t, "max_memory 2 GiB", func() bool { s, _ := b.volunteer.lastUpdate(); return s.MaxMemory == 2<<30 && s.AllowUnsandboxed })
		run(t, ctx, chromedp.Click(chromedp.ID("set-unsandboxed")))
		waitBackend(t, "allow_unsandboxed off", func() bool { s, _ := b.volunteer.lastUpdate(); return !s.AllowUnsandboxed })
	})

	t.Run("pause button pauses", func(t *testing.T) {
		open(t, ctx, ts.URL+"/#settings")
		waitPage(t, ctx, `!document.getElementById('set-form').hidden`)
		run(t, ctx, chromedp.Click(chromedp.ID("set-pause")))
		waitBackend(t, "paused", func() bool { return b.volunteer.Settings().Paused })
		waitPage(t, ctx, `document.getElementById('set-pause').textContent === 'Resume volunteering' &&
			document.getElementById('vol-state').textContent === 'paused'`)
	})

	t.Run("dark mode", func(t *testing.T) {
		colorScheme(t, ctx, "dark")
		defer colorScheme(t, ctx, "light")
		open(t, ctx, ts.URL+"/")
		waitPage(t, ctx, `document.getElementById('peer-id').textContent === '12D3KooWTest'`)
		if bg := guitest.Eval[string](t, ctx, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(20, 23, 29)" {
			t.Errorf("dark body background %s", bg)
		}
		guitest.Screenshot(t, ctx, "overview-dark")
		showTab(t, ctx, "jobs")
		run(t, ctx, chromedp.Click(chromedp.CSS(`[data-job="job-1"] button.frames-toggle`)))
		waitPage(t, ctx, `document.querySelectorAll('[data-job="job-1"] .frame.verified img').length === 2`)
		guitest.Screenshot(t, ctx, "jobs-dark")
		for _, tab := range []string{"network", "assets", "settings", "credits"} {
			showTab(t, ctx, tab)
			switch tab {
			case "credits":
				waitPage(t, ctx, `document.querySelector('#cr-plot svg path.line') !== null`)
			case "assets":
				waitPage(t, ctx, `document.getElementById('asset-list').textContent.includes('textures')`)
			}
			guitest.Screenshot(t, ctx, tab+"-dark")
		}
	})
}
