package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lazyPOVRay is a povray wrapper that passes --version through unchanged
// (so the volunteer advertises the real version) and renders everything
// else with antialiasing off and quality 2 (no shadows). It runs inside
// the volunteer's sandbox, which shows the wrapper's directory read-only
// and nothing of the test's, so its evidence is what the node logs.
const lazyPOVRay = `#!/bin/sh
for a in "$@"; do
  if [ "$a" = --version ]; then exec %s "$@"; fi
done
exec %s "$@" -A +Q2
`

// Three volunteers, one of them lazy (its povray renders with lower
// quality), replicas 2: the job completes with frames equal to an honest
// render, the lazy volunteer earns nothing and no receipt names it, and the
// honest volunteers earn.
func TestLazyVolunteerEarnsNothing(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	real := requireRenderer(t, "povray")
	bin := t.TempDir()
	writeFile(t, filepath.Join(bin, "povray"), fmt.Sprintf(lazyPOVRay, real, real))
	if err := os.Chmod(filepath.Join(bin, "povray"), 0o755); err != nil {
		t.Fatal(err)
	}
	scene := povScene(t, t.TempDir())

	pub := startNode(t, "", "--no-volunteer")
	lazy := startNodeEnv(t, "", []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")},
		"--bootstrap", pub.tcpAddr(), "--cpus", "1")
	honest := []*proc{
		startNode(t, "", "--bootstrap", pub.tcpAddr(), "--cpus", "1"),
		startNode(t, "", "--bootstrap", pub.tcpAddr(), "--cpus", "1"),
	}
	waitVolunteers(t, pub, 3, "povray")

	args := []string{"--renderer", "povray", "--frames", "1-4", "--resolution", "96x54", "--samples", "4"}
	start := time.Now()
	id := publishScene(t, pub.home, scene, append(args, "--replicas", "2")...)
	st := waitCompleted(t, pub.home, id, start, 4*time.Minute)
	if st.Frames.Verified != 4 {
		t.Fatalf("completed with %+v", st.Frames)
	}
	renders := strings.Count(lazy.log.String(), "msg=taskDelivered")
	t.Logf("the lazy volunteer delivered %d renders", renders)
	if renders == 0 {
		t.Fatalf("the lazy volunteer delivered nothing: the test proves nothing\nlazy node log:\n%s", tail(lazy.log.String(), 30))
	}
	if strings.Contains(lazy.log.String(), "msg=sandboxUnavailable") {
		t.Errorf("the lazy volunteer rendered outside its sandbox:\n%s", tail(lazy.log.String(), 30))
	}

	// The lazy renders succeeded and were delivered: what kept them out
	// is verification, not a failure.
	for _, e := range statusWithErrors(t, pub.home, id).Errors {
		if e.Peer == lazy.id {
			t.Errorf("the lazy volunteer's render failed instead of being delivered: %s", e.Reason)
		}
	}
	for _, l := range strings.Split(pub.log.String()+lazy.log.String(), "\n") {
		if strings.Contains(l, "taskDecided") || strings.Contains(l, "bubblewrap") {
			if i := strings.Index(l, "msg="); i >= 0 {
				l = l[i:]
			}
			t.Log(l)
		}
	}

	grid := fetchJob(t, pub.home, id)
	local := renderLocal(t, scene, args...)
	for f := 1; f <= 4; f++ {
		samePixels(t, grid, local, f, "the grid's frame vs an honest renderswarm render")
	}

	waitCredits(t, pub, honest)
	if c := creditsOf(t, lazy.home); c.Earned != 0 || len(c.Receipts) != 0 {
		t.Errorf("the lazy volunteer earned %.3f CU with %d receipts, want nothing", c.Earned, len(c.Receipts))
	}
	for _, r := range creditsOf(t, pub.home).Receipts {
		if r.Counterpart == lazy.id {
			t.Errorf("the publisher holds a receipt for the lazy volunteer: %+v", r)
		}
	}
	for _, h := range honest {
		if c := creditsOf(t, h.home); c.Earned <= 0 {
			t.Errorf("honest volunteer %s earned %.3f CU, want > 0", h.id, c.Earned)
		}
	}
}
