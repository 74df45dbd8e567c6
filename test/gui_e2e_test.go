package test

import (
	"context"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/gui/guitest"
)

// The web app in a real Chromium, against real nodes in separate processes:
// the publisher's overview shows its peer ID and its two volunteers; a job
// published from the page completes with its thumbnails shown; on a
// volunteer's page, fewer cores take effect on its next render and the
// pause button stops rendering and hands the lease back.
func TestWebAppDrivesRealNodes(t *testing.T) {
	skipIfShort(t)
	ctx := guitest.Browser(t)
	guitest.Prepare(t, ctx)
	pub := startNode(t, "", "--no-volunteer")
	vol := startNode(t, "", "--bootstrap", pub.tcpAddr())
	startNode(t, "", "--bootstrap", pub.tcpAddr())
	waitVolunteers(t, pub, 2, "builtin")

	// Overview.
	guitest.Open(t, ctx, pub.gui)
	guitest.WaitPage(t, ctx, `document.getElementById('peer-id').textContent === '`+pub.id+`' &&
		document.getElementById('peer-count').textContent === '2'`, 30*time.Second)
	guitest.Screenshot(t, ctx, "real-publisher-overview")

	// Publish from the page; watch the frames arrive.
	scene, err := filepath.Abs(demoScene)
	if err != nil {
		t.Fatal(err)
	}
	guitest.ShowTab(t, ctx, "jobs")
	guitest.Run(t, ctx,
		chromedp.SendKeys(chromedp.ID("pub-scene"), scene),
		chromedp.SetValue(chromedp.ID("pub-title"), "From the page"),
		chromedp.SetValue(chromedp.ID("pub-renderer"), "builtin"),
		chromedp.SetValue(chromedp.ID("pub-frames"), "1-4"),
		chromedp.SetValue(chromedp.ID("pub-replicas"), "2"),
		chromedp.SetValue(chromedp.ID("pub-resolution"), "96x54"),
		chromedp.Click(chromedp.ID("pub-submit")))
	guitest.WaitPage(t, ctx, `[...document.querySelectorAll('.job .title')].some((e) => e.textContent === 'From the page')`, 30*time.Second)
	id := guitest.Eval[string](t, ctx, `document.querySelector('.job').dataset.job`)
	guitest.Run(t, ctx, chromedp.Click(chromedp.CSS(`[data-job="`+id+`"] button.frames-toggle`)))
	guitest.WaitPage(t, ctx, `[...document.querySelectorAll('[data-job="`+id+`"] .frame.verified img')]
		.filter((i) => i.complete && i.naturalWidth > 0).length === 4`, 2*time.Minute)
	guitest.Screenshot(t, ctx, "real-publisher-jobs")
	if st := status(t, pub.home, id); st.State != "completed" || st.Frames.Verified != 4 {
		t.Fatalf("the job published from the page: %+v", st)
	}

	// A longer job keeps the volunteers busy while its user changes settings.
	long := publish(t, pub.home, "--frames", "1-24", "--resolution", "320x180", "--samples", "16", "--replicas", "2")
	cl, err := gui.Dial(context.Background(), vol.home)
	if err != nil {
		t.Fatal(err)
	}
	activity := func() gui.Activity {
		a, err := cl.Activity(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	rendering := func(a gui.Activity, threads int) bool {
		return slices.ContainsFunc(a.Renders, func(r gui.ActiveRender) bool {
			return r.Job == long && r.Phase == "rendering" && (threads == 0 || r.Threads == threads)
		})
	}
	guitest.Open(t, ctx, vol.gui+"#settings")
	guitest.WaitPage(t, ctx, `!document.getElementById('set-form').hidden`, 30*time.Second)
	guitest.Run(t, ctx, chromedp.SetValue(chromedp.ID("set-cpus"), "1"))
	guitest.Eval[bool](t, ctx, `document.getElementById('set-cpus').dispatchEvent(new Event('change'))`)
	guitest.WaitPage(t, ctx, `document.getElementById('set-msg').textContent.includes('Saved')`, 10*time.Second)
	waitFor(t, time.Minute, "a render with one core", func() bool { return rendering(activity(), 1) })

	guitest.Run(t, ctx, chromedp.Click(chromedp.ID("set-pause")))
	waitFor(t, 20*time.Second, "rendering to stop", func() bool {
		a := activity()
		return a.State == gui.StatePaused && !rendering(a, 0)
	})
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if a := activity(); rendering(a, 0) {
			t.Fatalf("a paused volunteer renders: %+v", a.Renders)
		}
	}
	guitest.ShowTab(t, ctx, "overview")
	guitest.WaitPage(t, ctx, `document.getElementById('vol-state').textContent === 'paused'`, 10*time.Second)
	guitest.Screenshot(t, ctx, "real-volunteer-paused")
	guitest.ShowTab(t, ctx, "settings")
	guitest.Screenshot(t, ctx, "real-volunteer-settings")
	guitest.ShowTab(t, ctx, "credits")
	guitest.Screenshot(t, ctx, "real-volunteer-credits")
	if s, err := cl.Settings(context.Background()); err != nil || !s.Paused || s.CPUs != 1 {
		t.Fatalf("settings after the page changed them: %+v, %v", s, err)
	}
}

// waitFor polls cond (bounded).
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Settings saved through the API survive a restart of the node; a setting
// given on the command line wins over the saved one for that run only.
func TestSettingsSurviveRestart(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	skipIfShort(t)
	if runtime.NumCPU() < 2 {
		t.Skip("needs two cores to tell a saved core count from a given one")
	}
	home := t.TempDir()
	n := startNode(t, home)
	ctx := context.Background()
	cl, err := gui.Dial(ctx, home)
	if err != nil {
		t.Fatal(err)
	}
	s, err := cl.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.CPUs, s.Paused, s.Mode, s.Schedule = 1, true, gui.ModeSchedule, "22:00-07:00"
	if _, err := cl.UpdateSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	n.stop()

	settings := func() gui.Settings {
		t.Helper()
		cl, err := gui.Dial(ctx, home)
		if err != nil {
			t.Fatal(err)
		}
		s, err := cl.Settings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	n = startNode(t, home)
	if got := settings(); got.CPUs != 1 || !got.Paused || got.Schedule != "22:00-07:00" {
		t.Fatalf("after a restart: %+v", got)
	}
	n.stop()
	startNode(t, home, "--cpus", "2")
	if got := settings(); got.CPUs != 2 || !got.Paused {
		t.Fatalf("with --cpus 2: %+v; want 2 cores and the rest as saved", got)
	}
}
