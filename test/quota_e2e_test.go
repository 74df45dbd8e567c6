package test

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A publisher with a small cache quota keeps its artist's frames: after a
// job completes, unrelated downloads larger than the quota pass through
// its cache, and every verified frame is still fetched (accepted results
// are pinned for the job's life, not cache).
func TestSmallCacheQuotaKeepsVerifiedFrames(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	skipIfShort(t)
	pub := startNode(t, "", "--no-volunteer", "--cache-quota", "256KiB")
	var vs []*proc
	for range 2 {
		vs = append(vs, startNode(t, "", "--bootstrap", pub.tcpAddr(), "--cpus", "1"))
	}
	waitVolunteers(t, pub, 2, "builtin")
	id := publish(t, pub.home, "--frames", "1-4", "--resolution", "96x54", "--samples", "1", "--replicas", "2")
	waitStatus(t, pub.home, id, 2*time.Minute, "the job to complete", func(st jobStatus) bool { return st.State == "completed" })

	// Three unrelated assets of 200 KiB each, fetched by the publisher:
	// together over its quota, so its cache collects.
	var noise []string
	for i := range 3 {
		dir := t.TempDir()
		data := make([]byte, 200<<10)
		rand.Read(data)
		writeFile(t, filepath.Join(dir, "noise.bin"), string(data))
		out := mustRun(t, vs[i%2].home, time.Minute, "assets", "add", dir)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		c := lines[len(lines)-1]
		noise = append(noise, c)
		if r := run(t, pub.home, 2*time.Minute, "assets", "get", c, "-o", t.TempDir(), "--timeout", "90s"); r.code != 0 {
			t.Fatalf("the publisher's download %d: exit %d: %s", i+1, r.code, r.stderr)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ls := mustRun(t, pub.home, 20*time.Second, "assets", "ls")
		kept := 0
		for _, c := range noise {
			if strings.Contains(ls, c) {
				kept++
			}
		}
		if kept < len(noise) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the publisher's cache kept all %d downloads over its quota: the test proves nothing\n%s", len(noise), ls)
		}
		time.Sleep(500 * time.Millisecond)
	}
	dir := fetchJob(t, pub.home, id)
	for f := 1; f <= 4; f++ {
		if _, err := os.Stat(filepath.Join(dir, frameName(f))); err != nil {
			t.Errorf("frame %d not fetched after the downloads: %v", f, err)
		}
	}
	if st := status(t, pub.home, id); st.Frames.Verified != 4 {
		t.Errorf("after the downloads the job shows %+v", st.Frames)
	}
}
