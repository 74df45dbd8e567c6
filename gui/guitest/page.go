package guitest

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// StepTimeout bounds one browser step (Run, Eval).
const StepTimeout = 20 * time.Second

// watchPage records, from the first script on, every uncaught error and
// every Content-Security-Policy violation of the tab's pages.
const watchPage = `window.__problems = [];
window.addEventListener('error', (e) => window.__problems.push('error: ' + e.message));
window.addEventListener('unhandledrejection', (e) => window.__problems.push('rejection: ' + e.reason));
document.addEventListener('securitypolicyviolation', (e) => window.__problems.push('CSP: ' + e.violatedDirective + ' ' + e.blockedURI));`

// Prepare readies a tab: a 1366x768 laptop screen, and a watch on its pages'
// script errors and Content-Security-Policy violations (Open checks them).
func Prepare(t testing.TB, ctx context.Context) {
	t.Helper()
	Run(t, ctx, chromedp.EmulateViewport(1366, 768), chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: watchPage})
		return err
	}))
}

// Open loads url afresh on a prepared tab (leaving the page before, and its
// event stream) and, when the test ends without failing otherwise, fails
// it if the page reported a script error or a policy violation.
func Open(t testing.TB, ctx context.Context, url string) {
	t.Helper()
	Run(t, ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(url))
	WaitPage(t, ctx, `location.href === '`+url+`' && document.readyState === 'complete'`, StepTimeout)
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		if problems := Eval[[]string](t, ctx, `window.__problems || []`); len(problems) > 0 {
			t.Errorf("the page reported problems: %q", problems)
		}
	})
}

// ShowTab switches the app's tab as a click on it would.
func ShowTab(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	Run(t, ctx, chromedp.Click(chromedp.CSS(`#tabs a[data-tab="`+name+`"]`)))
	WaitPage(t, ctx, `!document.getElementById('`+name+`').hidden`, StepTimeout)
}

// Run runs browser steps, each call bounded by StepTimeout.
func Run(t testing.TB, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// Eval evaluates a JavaScript expression in the page.
func Eval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// WaitPage waits up to d until the JavaScript expression is true in the
// page. It evaluates it again and again rather than with chromedp.Poll,
// which can pick the execution context of the page just left.
func WaitPage(t testing.TB, ctx context.Context, expr string, d time.Duration) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ok, err := chromedp.Run(wctx, chromedp.Evaluate[bool](`!!(`+expr+`)`))
		if ok && err == nil {
			return
		}
		if err != nil {
			last = err
		}
		select {
		case <-wctx.Done():
			t.Fatalf("waiting for %s: still false after %v (last error: %v)", expr, d, last)
		case <-tick.C:
		}
	}
}
