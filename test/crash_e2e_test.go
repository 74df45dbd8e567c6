package test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/internal/failpoint"
)

// Receipts survive a power cut at every step of issuing and
// countersigning one (DESIGN.md §6): the publisher or a volunteer is
// killed with SIGKILL at the step (internal/failpoint), started again on
// the same home, and afterwards the books of all agree, every receipt is
// countersigned (none is stuck) and none is counted twice.
func TestReceiptsSurviveKillAtEveryStep(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	skipIfShort(t)
	steps := []struct {
		step      string
		publisher bool // the publisher is killed; otherwise the first volunteer
	}{
		{failpoint.ReceiptIssued, true},
		{failpoint.TaskCredited, true},
		{failpoint.CountersignRecorded, true},
		{failpoint.ResultDelivered, false},
		{failpoint.ReceiptAccepted, false},
		{failpoint.ReceiptCountersigned, false},
	}
	for _, s := range steps {
		t.Run(s.step, func(t *testing.T) {
			t.Parallel() // each its own swarm
			armed := []string{failpoint.Env + "=" + s.step}
			var pubEnv, volEnv []string
			if s.publisher {
				pubEnv = armed
			} else {
				volEnv = armed
			}
			pubArgs := []string{"--no-volunteer"}
			pub := startNodeEnv(t, "", pubEnv, pubArgs...)
			volArgs := []string{"--bootstrap", pub.tcpAddr(), "--cpus", "1"}
			vs := []*proc{startNodeEnv(t, "", volEnv, volArgs...)}
			for range 2 {
				vs = append(vs, startNode(t, "", volArgs...))
			}
			waitVolunteers(t, pub, 3, "builtin")
			id := publish(t, pub.home, "--frames", "1-3", "--resolution", "32x18", "--samples", "1", "--replicas", "2")
			victim, args := vs[0], volArgs
			if s.publisher {
				// A restarted publisher listens on new ports: it finds
				// its volunteers through one of them.
				victim, args = pub, append(pubArgs, "--bootstrap", vs[1].tcpAddr())
			}
			select {
			case <-victim.done:
			case <-time.After(2 * time.Minute):
				t.Fatalf("the %s never reached %s", map[bool]string{true: "publisher", false: "volunteer"}[s.publisher], s.step)
			}
			restarted := startNode(t, victim.home, args...)
			if s.publisher {
				pub = restarted
			} else {
				vs[0] = restarted
			}
			waitStatus(t, pub.home, id, 2*time.Minute, "the job to complete", func(st jobStatus) bool { return st.State == "completed" })
			waitBooksSettled(t, pub, vs)
		})
	}
}

// A publisher whose database is restored from a copy taken while it was
// writing (an older state: it lost receipts the volunteers hold) repairs
// the pairs' chains from the volunteers' copies; the books agree again.
func TestReceiptsSurviveAnOlderDatabase(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	skipIfShort(t)
	pub, vs := swarm(t, 2)
	waitVolunteers(t, pub, 2, "builtin")
	first := publish(t, pub.home, "--frames", "1-2", "--resolution", "32x18", "--samples", "1", "--replicas", "2")
	waitStatus(t, pub.home, first, 2*time.Minute, "the first job to complete", func(st jobStatus) bool { return st.State == "completed" })
	// Copy the database while the publisher works on a second job.
	second := publish(t, pub.home, "--frames", "1-4", "--resolution", "32x18", "--samples", "1", "--replicas", "2")
	backup := t.TempDir()
	copyDB(t, pub.home, backup)
	waitStatus(t, pub.home, second, 2*time.Minute, "the second job to complete", func(st jobStatus) bool { return st.State == "completed" })
	waitBooksSettled(t, pub, vs)
	pub.cmd.Process.Kill()
	<-pub.done
	for _, f := range dbFiles(pub.home) {
		os.Remove(f)
	}
	copyDB(t, backup, pub.home)
	pub = startNode(t, pub.home, "--no-volunteer", "--bootstrap", vs[0].tcpAddr())
	third := publish(t, pub.home, "--frames", "5-6", "--resolution", "32x18", "--samples", "1", "--replicas", "2")
	waitStatus(t, pub.home, third, 2*time.Minute, "a job after the restore to complete", func(st jobStatus) bool { return st.State == "completed" })
	waitBooksSettled(t, pub, vs)
}

// dbFiles are a home's database and its write-ahead log.
func dbFiles(home string) []string {
	m, _ := filepath.Glob(filepath.Join(home, "renderswarm.db*"))
	return m
}

// copyDB copies a home's database files into dir, as they are now.
func copyDB(t *testing.T, home, dir string) {
	t.Helper()
	files := dbFiles(home)
	if len(files) == 0 {
		t.Fatalf("no database in %s", home)
	}
	for _, f := range files {
		in, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dir, filepath.Base(f)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
}

// waitBooksSettled waits (bounded) until every receipt the publisher
// issued is countersigned, what it spent is what the volunteers earned
// from it, and no task is paid twice to one volunteer.
func waitBooksSettled(t *testing.T, pub *proc, vs []*proc) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		p := creditsOf(t, pub.home)
		earned := 0.0
		for _, v := range vs {
			for _, r := range creditsOf(t, v.home).Receipts {
				if r.Role == "volunteer" && r.Counterpart == pub.id {
					earned += r.CU
				}
			}
		}
		var problems []string
		p.noReceiptTwice(t)
		for _, r := range p.Receipts {
			if !r.Countersigned {
				problems = append(problems, "receipt for "+r.Counterpart+" "+r.Task+" not countersigned")
			}
		}
		if len(p.Receipts) == 0 {
			problems = append(problems, "no receipts")
		}
		if abs(earned-p.Spent) > 0.001 {
			problems = append(problems, fmt.Sprintf("the publisher spent %.3f CU, its volunteers earned %.3f CU from it", p.Spent, earned))
		}
		if len(problems) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("books not settled after a minute: %s", strings.Join(problems, "; "))
		}
		time.Sleep(500 * time.Millisecond)
	}
}
