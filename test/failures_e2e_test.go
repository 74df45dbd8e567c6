package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitFailed waits (bounded) for a job to end failed and returns its status.
func waitFailed(t *testing.T, home, id string, start time.Time, d time.Duration) fullStatus {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		st := statusWithErrors(t, home, id)
		switch {
		case st.State == "failed":
			t.Logf("job %s failed after %v: %+v", id, time.Since(start).Round(100*time.Millisecond), st.Frames)
			return st
		case st.State == "completed" || st.State == "canceled":
			t.Fatalf("job %s %s, want failed: %+v", id, st.State, st.Frames)
		case time.Now().After(deadline):
			t.Fatalf("job %s still %s after %v, want failed: %+v; failed renders: %+v", id, st.State, d, st.Frames, st.Errors)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A scene that makes POV-Ray stop with an error and one that never
// finishes (published with --time-limit 5s): both jobs end failed within a
// bounded time — the publisher's own calibration render fails the same way
// — and `status` (JSON and human) carries the reason: POV-Ray's last
// words, the time limit. A renderer killed on both volunteers (new to this
// publisher) does not fail a job the publisher renders fine: the crashes
// show in its status, and it stays open. Both volunteers are still running
// afterwards and complete a normal job.
func TestPOVRayCrashAndHangFailJob(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	requireRenderer(t, "povray")
	dir := t.TempDir()
	crash := filepath.Join(dir, "crash", "crash.pov")
	writeFile(t, crash, `#version 3.7;
camera { location <0, 0, -3> look_at 0 }
sphere { 0, 1 pigment { rgb 1 } }
#error "renderswarm-test deliberate failure"
`)
	hang := filepath.Join(dir, "hang", "hang.pov")
	writeFile(t, hang, "#version 3.7;\n#declare I = 0;\n#while (true)\n  #declare I = I + 1;\n#end\n")

	pub, vs := swarm(t, 2)
	waitVolunteers(t, pub, 2, "povray")

	start := time.Now()
	crashID := publishScene(t, pub.home, crash, "--renderer", "povray", "--resolution", "64x36")
	hangID := publishScene(t, pub.home, hang, "--renderer", "povray", "--resolution", "64x36", "--time-limit", "5s")

	st := waitFailed(t, pub.home, crashID, start, 2*time.Minute)
	checkReasons(t, st, "renderswarm-test deliberate failure")
	human := mustRun(t, pub.home, 20*time.Second, "status", crashID)
	if !strings.Contains(human, "failed") || !strings.Contains(human, "renderswarm-test deliberate failure") {
		t.Errorf("status %s does not show the failure and POV-Ray's message:\n%s", crashID, human)
	}

	st = waitFailed(t, pub.home, hangID, start, 2*time.Minute)
	checkReasons(t, st, "limit")
	if st.Frames.Failed != 1 {
		t.Errorf("frames %+v, want the one frame failed", st.Frames)
	}
	human = mustRun(t, pub.home, 20*time.Second, "status", hangID)
	if !strings.Contains(human, "failed") || !strings.Contains(human, "5s") {
		t.Errorf("status %s does not show the time limit:\n%s", hangID, human)
	}
	t.Logf("status %s:\n%s", hangID, human)
	// The hanging povray processes were killed, not left running.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left []string
		for _, v := range vs {
			out, _ := exec.Command("pgrep", "-af", v.home).Output()
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if strings.Contains(l, "hang.pov") {
					left = append(left, l)
				}
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10s after the job failed, povray still runs: %q", left)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A renderer that dies mid-render (killed with SIGSEGV as soon as it
	// runs, on each volunteer): the crashes are in the job's status, and
	// the job — which the publisher renders fine — is not failed by two
	// new volunteers' reports.
	slow := filepath.Join(dir, "slow", "slow.pov")
	writeFile(t, slow, slowScene)
	slowID := publishScene(t, pub.home, slow, "--renderer", "povray", "--resolution", "640x360", "--samples", "16", "--time-limit", "2m")
	stop := make(chan struct{})
	killed := make(chan int)
	go func() { killed <- crashRenderers(stop, vs, "slow.pov") }()
	deadline = time.Now().Add(2 * time.Minute)
	for st = statusWithErrors(t, pub.home, slowID); len(st.Errors) < 2; st = statusWithErrors(t, pub.home, slowID) {
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes, %d crashes reported: %+v", len(st.Errors), st.Errors)
		}
		time.Sleep(200 * time.Millisecond)
	}
	close(stop)
	if n := <-killed; n < 2 {
		t.Fatalf("killed %d renders, want one on each volunteer", n)
	}
	checkReasons(t, st, "segmentation fault")
	for _, v := range vs {
		if !reportedBy(st, v.id) {
			t.Errorf("no crash reported by volunteer %s", v.id)
		}
	}
	pub.waitLogged(time.Minute, "msg=failureReproduced", "failed=false")
	if st = statusWithErrors(t, pub.home, slowID); st.State == "failed" || st.Frames.Failed != 0 {
		t.Fatalf("two new volunteers' crash reports failed the job: %s %+v", st.State, st.Frames)
	}
	mustRun(t, pub.home, 20*time.Second, "cancel", slowID)

	for _, v := range vs {
		select {
		case <-v.done:
			t.Fatalf("volunteer %s exited: %s", v.id, tail(v.log.String(), 20))
		default:
		}
	}
	// Both volunteers still work: a small builtin job completes with two
	// replicas, which needs both of them.
	start = time.Now()
	id := publishScene(t, pub.home, demoScene, "--renderer", "builtin", "--frames", "1-2", "--resolution", "64x36", "--replicas", "2")
	waitCompleted(t, pub.home, id, start, 2*time.Minute)
}

// checkReasons fails t unless st's errors hold failed renders of frame 1,
// every reason mentioning want.
func checkReasons(t *testing.T, st fullStatus, want string) {
	t.Helper()
	if len(st.Errors) == 0 {
		t.Errorf("no failed render in the status")
	}
	for _, e := range st.Errors {
		t.Logf("frame %d tile %d failed on %s: %s", e.Frame, e.Tile, e.Peer, e.Reason)
		if !strings.Contains(e.Reason, want) || e.Frame != 1 {
			t.Errorf("frame %d: reason %q does not mention %q", e.Frame, e.Reason, want)
		}
	}
}

// reportedBy reports whether a failed render in st came from peer id.
func reportedBy(st fullStatus, id string) bool {
	for _, e := range st.Errors {
		if e.Peer == id {
			return true
		}
	}
	return false
}

// slowScene takes POV-Ray seconds to render at 640x360 with anti-aliasing.
const slowScene = `#version 3.7;
camera { location <0, 2, -6> look_at 0 }
light_source { <5, 10, -5> rgb 1 area_light <2, 0, 0>, <0, 0, 2>, 8, 8 adaptive 0 jitter }
plane { y, -1 pigment { checker rgb 0.2 rgb 0.9 } finish { reflection 0.3 } }
#for (I, 0, 24)
  sphere { <mod(I, 5) - 2, 0, div(I, 5) - 2>, 0.4 pigment { rgb <0.8, 0.5, 0.2> } finish { reflection 0.4 } }
#end
`

// crashRenderers kills, with SIGSEGV, every povray process of the
// volunteers that renders scene, until stop; it returns how many it killed.
func crashRenderers(stop <-chan struct{}, vs []*proc, scene string) int {
	killed := map[int]bool{}
	for {
		select {
		case <-stop:
			return len(killed)
		case <-time.After(50 * time.Millisecond):
		}
		for _, v := range vs {
			out, _ := exec.Command("pgrep", "-f", "-x", "/usr/bin/povray .*"+v.home+".*"+scene+".*").Output()
			for _, f := range strings.Fields(string(out)) {
				if pid, err := strconv.Atoi(f); err == nil && !killed[pid] {
					if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.SIGSEGV) == nil {
						killed[pid] = true
					}
				}
			}
		}
	}
}
