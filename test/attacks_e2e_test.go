package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/internal/adversary"
	"github.com/renderswarm/renderswarm/job"
)

// The adversary program (internal/adversary/cmd/rsadversary), built once
// for the attack tests that need it.
var (
	adversaryOnce  sync.Once
	adversaryPath  string
	adversaryBuild error
)

func adversaryBinary(t *testing.T) string {
	t.Helper()
	adversaryOnce.Do(func() {
		adversaryPath = filepath.Join(filepath.Dir(binary), "rsadversary")
		out, err := exec.Command("go", "build", "-o", adversaryPath, "../internal/adversary/cmd/rsadversary").CombinedOutput()
		if err != nil {
			adversaryBuild = fmt.Errorf("building rsadversary: %v\n%s", err, out)
		}
	})
	if adversaryBuild != nil {
		t.Fatal(adversaryBuild)
	}
	return adversaryPath
}

// advProc is a running rsadversary.
type advProc struct {
	t     *testing.T
	cmd   *exec.Cmd
	log   *bytes.Buffer
	lines chan string // its stdout, line by line
	done  chan struct{}
	ids   []string
}

// startAdversaryProc runs rsadversary with identities peers behaving as
// behavior, bootstrapped from addr, and waits until they are up.
func startAdversaryProc(t *testing.T, behavior string, identities int, addr string, extra ...string) *advProc {
	t.Helper()
	cmd := exec.Command(adversaryBinary(t), append([]string{"-dir", t.TempDir(), "-behavior", behavior,
		"-identities", strconv.Itoa(identities), "-bootstrap", addr}, extra...)...)
	var log bytes.Buffer
	cmd.Stderr = &log
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &advProc{t: t, cmd: cmd, log: &log, lines: make(chan string, 4), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			a.lines <- sc.Text()
		}
		cmd.Wait()
		close(a.done)
	}()
	t.Cleanup(func() {
		a.stop()
		if t.Failed() {
			t.Logf("rsadversary %s log (tail):\n%s", behavior, tail(log.String(), 30))
		}
	})
	var up struct{ Peers []string }
	select {
	case line := <-a.lines:
		if err := json.Unmarshal([]byte(line), &up); err != nil || len(up.Peers) != identities {
			t.Fatalf("rsadversary printed %q: %v", line, err)
		}
	case <-a.done:
		t.Fatalf("rsadversary exited: %s", log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("rsadversary not up in 30s: %s", log.String())
	}
	a.ids = up.Peers
	return a
}

// stop interrupts the adversary and returns what each identity did.
func (a *advProc) stop() map[string]adversary.Stats {
	select {
	case <-a.done:
		return nil
	default:
	}
	a.cmd.Process.Signal(syscall.SIGINT)
	var stats struct{ Stats map[string]adversary.Stats }
	for {
		select {
		case line := <-a.lines:
			if json.Unmarshal([]byte(line), &stats) == nil && stats.Stats != nil {
				<-a.done
				return stats.Stats
			}
		case <-a.done:
			return nil
		case <-time.After(20 * time.Second):
			a.cmd.Process.Kill()
			<-a.done
			a.t.Errorf("rsadversary did not stop within 20s of SIGINT")
			return nil
		}
	}
}

// payment is one receipt a publisher issued.
type payment struct {
	task   string
	cu     float64
	issued time.Time
	to     string
}

// receiptsOf lists the publisher's receipts for job id, waiting (bounded)
// until each of its frames has two.
func receiptsOf(t *testing.T, home, id string, frames int) []payment {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var r struct {
			Receipts []struct {
				Role, Counterpart, Task string
				CU                      float64
				Issued                  time.Time
			}
		}
		out := mustRun(t, home, 20*time.Second, "credits", "--json")
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("credits --json printed %q: %v", out, err)
		}
		var ps []payment
		per := map[string]int{}
		for _, e := range r.Receipts {
			if e.Role == "publisher" && len(e.Task) > len(id) && e.Task[:len(id)] == id {
				ps = append(ps, payment{task: e.Task, cu: e.CU, issued: e.Issued, to: e.Counterpart})
				per[e.Task]++
			}
		}
		done := len(per) == frames
		for _, n := range per {
			done = done && n >= 2
		}
		if done || time.Now().After(deadline) {
			return ps
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// A publisher, two honest volunteers and one adversary process on
// loopback. First the adversary copies: the frames fetched equal an
// honest `renderswarm render` and the copier earns nothing. Then it
// inflates its claims with four identities, in pairs asking back to back,
// and the publisher is restarted mid-job: the frames are right, no
// receipt to the inflaters, before or after the restart, exceeds 2× the
// publisher's price of a frame, and every frame is credited.
func TestAttackAcrossProcesses(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	skipIfShort(t)
	pub, honest := swarm(t, 2)
	args := []string{"--resolution", "64x36", "--samples", "4", "--replicas", "2"}
	local := renderLocal(t, demoScene, append([]string{"--frames", "1-12"}, args[:4]...)...)

	// The copier.
	copier := startAdversaryProc(t, "copier", 1, pub.tcpAddr())
	waitVolunteers(t, pub, 3, "builtin")
	for _, h := range honest { // the copier gets a replica first
		setPaused(t, h.home, true)
	}
	start := time.Now()
	id := publish(t, pub.home, append([]string{"--frames", "1-4"}, args...)...)
	waitStatus(t, pub.home, id, time.Minute, "the copier's lease", func(s jobStatus) bool { return s.Frames.Rendering > 0 })
	for _, h := range honest {
		setPaused(t, h.home, false)
	}
	waitCompleted(t, pub.home, id, start, 3*time.Minute)
	grid := fetchJob(t, pub.home, id)
	for f := 1; f <= 4; f++ {
		samePixels(t, grid, local, f, "the grid's frame vs an honest renderswarm render")
	}
	paid := receiptsOf(t, pub.home, id, 4)
	stats := copier.stop()[copier.ids[0]]
	if len(stats.Leased) == 0 {
		t.Fatalf("the copier leased nothing: the test proves nothing")
	}
	for _, p := range paid {
		if p.to == copier.ids[0] {
			t.Errorf("the copier was paid %.3f CU for %s (it copied frames %v)", p.cu, p.task, frames(stats.Copied))
		}
	}

	// Four inflating identities in one process (Sybils come cheap), in
	// pairs that ask for work back to back, each taking a second a task
	// so that the restart falls mid-job. The honest volunteers' users
	// pause them until the inflaters have had frames decided before and
	// after a restart of the publisher — killed, not stopped: a publisher
	// that shuts down cleanly refuses the deliveries that arrive meanwhile
	// (its asset store stops first), which is another bug than the one
	// this test plays.
	inflater := startAdversaryProc(t, "inflater", 4, pub.tcpAddr(), "-tandem", "2", "-pace", "1s")
	waitVolunteers(t, pub, 6, "builtin")
	for _, h := range honest {
		setPaused(t, h.home, true)
	}
	start = time.Now()
	const inflated = 12
	id = publish(t, pub.home, append([]string{"--frames", fmt.Sprintf("1-%d", inflated)}, args...)...)
	before := waitStatus(t, pub.home, id, 2*time.Minute, "two verified frames", func(s jobStatus) bool { return s.Frames.Verified >= 2 })
	pub.cmd.Process.Signal(syscall.SIGKILL)
	<-pub.done
	restarted := startNode(t, pub.home, "--no-volunteer", "--bootstrap", honest[0].tcpAddr())
	restartedAt := time.Now().Truncate(time.Second)
	t.Logf("inflaters %v; publisher restarted at %s", inflater.ids, restartedAt.Format(time.TimeOnly))
	waitStatus(t, restarted.home, id, 2*time.Minute, "a frame verified after the restart", func(s jobStatus) bool {
		return s.Frames.Verified > before.Frames.Verified || s.State == "completed"
	})
	for _, h := range honest {
		setPaused(t, h.home, false)
	}
	waitCompleted(t, restarted.home, id, start, 3*time.Minute)
	grid = fetchJob(t, restarted.home, id)
	for f := 1; f <= inflated; f++ {
		samePixels(t, grid, local, f, "the grid's frame vs an honest renderswarm render")
	}
	paid = receiptsOf(t, restarted.home, id, inflated)
	inflater.stop()
	st := status(t, restarted.home, id)
	if st.PriceCU <= 0 {
		t.Fatalf("the job has no price: %+v", st)
	}
	ceiling := int64(2 * st.PriceCU * 1000)
	credited := map[string]int{}
	after := 0
	for _, p := range paid {
		t.Logf("paid %.3f CU to %s for %s at %s", p.cu, p.to, p.task, p.issued.Format(time.TimeOnly))
		credited[p.task]++
		when := "before"
		if !p.issued.Before(restartedAt) {
			when = "after"
			after++
		}
		if slices.Contains(inflater.ids, p.to) && p.cu*1000 > float64(ceiling) {
			t.Errorf("inflater %s was paid %.0f mCU for %s, %s the publisher's restart; the ceiling is %d mCU", p.to, p.cu*1000, p.task, when, ceiling)
		}
	}
	for f := 1; f <= inflated; f++ {
		if task := fmt.Sprintf("%s/%d/0", id, f); credited[task] < 2 {
			t.Errorf("verified frame %d has %d receipt(s), want 2", f, credited[task])
		}
	}
	if after == 0 {
		t.Errorf("no receipt was issued after the publisher's restart: the cap after a restart is untested")
	}
}

// setPaused pauses or resumes a volunteer node, as its user would in the
// web app.
func setPaused(t *testing.T, home string, paused bool) {
	t.Helper()
	ctx := context.Background()
	cl, err := gui.Dial(ctx, home)
	if err != nil {
		t.Fatal(err)
	}
	s, err := cl.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Paused = paused
	if _, err := cl.UpdateSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
}

// frames lists the frames of tasks, for messages.
func frames(ts []job.Task) []int {
	var out []int
	for _, t := range ts {
		out = append(out, t.Frame)
	}
	return out
}
