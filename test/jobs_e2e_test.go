package test

import (
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const demoScene = "../examples/builtin/demo.scene"

type jobStatus struct {
	ID      string  `json:"id"`
	State   string  `json:"state"`
	PriceCU float64 `json:"price_cu"`
	Frames  struct {
		Total, Verified, Rendering, Failed int
	} `json:"frames"`
}

func status(t *testing.T, home, id string) jobStatus {
	t.Helper()
	var st jobStatus
	out := mustRun(t, home, 20*time.Second, "status", id, "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json printed %q: %v", out, err)
	}
	return st
}

// waitStatus polls a job until cond holds (bounded).
func waitStatus(t *testing.T, home, id string, d time.Duration, what string, cond func(jobStatus) bool) jobStatus {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		st := status(t, home, id)
		if cond(st) {
			return st
		}
		if st.State == "failed" || st.State == "canceled" {
			t.Fatalf("job %s while waiting for %s: %+v", st.State, what, st)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %+v", d, what, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// swarm starts a publisher that does not volunteer and n volunteers.
func swarm(t *testing.T, volunteers int) (*proc, []*proc) {
	pub := startNode(t, "", "--no-volunteer")
	var vs []*proc
	for range volunteers {
		vs = append(vs, startNode(t, "", "--bootstrap", pub.tcpAddr(), "--cpus", "1"))
	}
	return pub, vs
}

type creditsReport struct {
	Balance, Earned, Spent float64
	Receipts               []struct {
		Role, Counterpart, Task string
		CU                      float64
		Countersigned           bool
	}
}

// noReceiptTwice fails the test when r holds two receipts for one task
// and counterpart.
func (r creditsReport) noReceiptTwice(t *testing.T) {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range r.Receipts {
		key := e.Counterpart + " " + e.Task
		if seen[key] {
			t.Fatalf("two receipts for %s", key)
		}
		seen[key] = true
	}
}

func creditsOf(t *testing.T, home string) creditsReport {
	t.Helper()
	var r creditsReport
	out := mustRun(t, home, 20*time.Second, "credits", "--json")
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("credits --json printed %q: %v", out, err)
	}
	return r
}

// waitCredits waits (bounded) until the volunteers hold countersigned
// receipts for everything the publisher paid, and checks the books agree.
func waitCredits(t *testing.T, pub *proc, vs []*proc) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p := creditsOf(t, pub.home)
		earned := 0.0
		for _, v := range vs {
			earned += creditsOf(t, v.home).Earned
		}
		if p.Spent > 0 && earned > 0 && abs(earned-p.Spent) < 0.01 {
			p.noReceiptTwice(t)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("books do not agree after 30s: publisher spent %.3f CU, volunteers earned %.3f CU", p.Spent, earned)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func publish(t *testing.T, home string, args ...string) string {
	t.Helper()
	out := mustRun(t, home, time.Minute, append([]string{"publish", demoScene}, args...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

func decodePixels(t *testing.T, path string) *image.NRGBA {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := image.NewNRGBA(img.Bounds())
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			out.Set(x, y, img.At(x, y))
		}
	}
	return out
}

// A publisher and three volunteers as separate processes: a 6-frame job with
// 2 replicas completes, and the fetched frames equal a local render pixel
// for pixel.
func TestJobAcrossProcesses(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	skipIfShort(t)
	pub, vs := swarm(t, 3)
	// Volunteers advertise their renderers; `peers` shows them.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var peers []struct {
			Renderers []string `json:"renderers"`
		}
		json.Unmarshal([]byte(mustRun(t, pub.home, 20*time.Second, "peers", "--json")), &peers)
		ok := len(peers) == 3
		for _, p := range peers {
			ok = ok && slices.ContainsFunc(p.Renderers, func(r string) bool { return strings.HasPrefix(r, "builtin ") })
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("peers --json after 20s: %+v; want 3 volunteers advertising builtin and its version", peers)
		}
		time.Sleep(200 * time.Millisecond)
	}
	id := publish(t, pub.home, "--frames", "1-6", "--replicas", "2", "--resolution", "96x54", "--wait")
	st := status(t, pub.home, id)
	if st.State != "completed" || st.Frames.Verified != 6 {
		t.Fatalf("after publish --wait: %+v", st)
	}
	grid := t.TempDir()
	mustRun(t, pub.home, time.Minute, "fetch", id, "-o", grid)
	local := t.TempDir()
	mustRun(t, t.TempDir(), 2*time.Minute, "render", demoScene, "--frames", "1-6", "--resolution", "96x54", "-o", local)
	for f := 1; f <= 6; f++ {
		name := fmt.Sprintf("frame_%04d.png", f)
		a, b := decodePixels(t, filepath.Join(grid, name)), decodePixels(t, filepath.Join(local, name))
		if a.Bounds() != b.Bounds() || string(a.Pix) != string(b.Pix) {
			t.Errorf("%s from the grid differs from renderswarm render", name)
		}
	}
	waitCredits(t, pub, vs)
	if got := len(creditsOf(t, pub.home).Receipts); got != 12 {
		t.Fatalf("publisher holds %d receipts, want 12 (6 frames, 2 agreeing replicas each)", got)
	}
}

// A volunteer killed -9 mid-job costs only its lease; a volunteer that joins
// late picks up the work; the job completes.
func TestVolunteerKilledMidJob(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	skipIfShort(t)
	pub, vs := swarm(t, 2)
	id := publish(t, pub.home, "--frames", "1-8", "--replicas", "2", "--resolution", "160x90")
	waitStatus(t, pub.home, id, time.Minute, "rendering to start", func(s jobStatus) bool { return s.Frames.Rendering > 0 })
	vs[0].cmd.Process.Signal(syscall.SIGKILL)
	<-vs[0].done
	startNode(t, "", "--bootstrap", pub.tcpAddr(), "--cpus", "1")
	st := waitStatus(t, pub.home, id, 3*time.Minute, "completion", func(s jobStatus) bool { return s.State == "completed" })
	if st.Frames.Verified != 8 {
		t.Fatalf("completed with %+v", st)
	}
}

// A publisher killed -9 and restarted on its home resumes its job: verified
// frames are kept and the job completes.
func TestPublisherKilledAndRestarted(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	skipIfShort(t)
	pub, vs := swarm(t, 2)
	id := publish(t, pub.home, "--frames", "1-10", "--replicas", "2", "--resolution", "160x90")
	before := waitStatus(t, pub.home, id, 2*time.Minute, "a verified frame", func(s jobStatus) bool { return s.Frames.Verified >= 2 })
	pub.cmd.Process.Signal(syscall.SIGKILL)
	<-pub.done
	restarted := startNode(t, pub.home, "--no-volunteer", "--bootstrap", vs[0].tcpAddr())
	after := status(t, restarted.home, id)
	if after.Frames.Verified < before.Frames.Verified {
		t.Fatalf("verified frames lost across the crash: %d before, %d after", before.Frames.Verified, after.Frames.Verified)
	}
	st := waitStatus(t, restarted.home, id, 3*time.Minute, "completion", func(s jobStatus) bool { return s.State == "completed" })
	if st.Frames.Verified != 10 {
		t.Fatalf("completed with %+v", st)
	}
	out := t.TempDir()
	mustRun(t, restarted.home, time.Minute, "fetch", id, "-o", out)
	entries, _ := os.ReadDir(out)
	if len(entries) != 10 {
		t.Fatalf("fetched %d frames, want 10", len(entries))
	}
	waitCredits(t, restarted, vs)
}
