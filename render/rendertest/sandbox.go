package rendertest

import (
	"os"
	"testing"

	"github.com/renderswarm/renderswarm/render"
)

// RequireSandbox skips t unless the backend's renders run in a working
// sandbox; with RENDERSWARM_REQUIRE_RENDERERS=1 (CI) it fails instead, so
// the sandbox tests cannot silently skip where they must run.
func RequireSandbox(t testing.TB, b render.Sandboxer) {
	t.Helper()
	ok, why := b.Sandboxed()
	if ok {
		return
	}
	if os.Getenv("RENDERSWARM_REQUIRE_RENDERERS") == "1" {
		t.Fatalf("no working sandbox and RENDERSWARM_REQUIRE_RENDERERS=1: %s", why)
	}
	t.Skipf("no working sandbox here (%s); set RENDERSWARM_REQUIRE_RENDERERS=1 to fail instead", why)
}
