package test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bigMesh is an OBJ file of about size bytes: one triangle and random
// comment lines, a stand-in for a large texture every scene reads.
func bigMesh(size int) string {
	var b strings.Builder
	b.WriteString("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
	line := make([]byte, 60)
	for b.Len() < size {
		rand.Read(line)
		b.WriteString("# " + hex.EncodeToString(line) + "\n")
	}
	return b.String()
}

// Two publishers' jobs whose scenes share a 32 MiB file: each volunteer
// renders both and receives that file once.
func TestSharedTextureFetchedOncePerVolunteer(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	skipIfShort(t)
	texture := bigMesh(32 << 20)
	scenes := []string{}
	for i, color := range []string{"0.8,0.2,0.2", "0.2,0.2,0.8"} {
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("shot%d", i))
		writeFile(t, filepath.Join(dir, "textures/shared.obj"), texture)
		writeFile(t, filepath.Join(dir, "shot.scene"), fmt.Sprintf(`renderswarm-scene 1
settings frames=1-1 resolution=32x18 samples=1 bounces=1
material name=m type=diffuse color=%s
camera pos=0,0.5,3 look=0,0.3,0 fov=40
mesh file=textures/shared.obj material=m
`, color))
		scenes = append(scenes, filepath.Join(dir, "shot.scene"))
	}

	pubA := startNode(t, "", "--no-volunteer")
	pubB := startNode(t, "", "--no-volunteer", "--bootstrap", pubA.tcpAddr())
	var vs []*proc
	for range 2 {
		vs = append(vs, startNode(t, "", "--bootstrap", pubA.tcpAddr(), "--cpus", "1"))
	}
	var jobs []string
	for i, pub := range []*proc{pubA, pubB} {
		out := mustRun(t, pub.home, 2*time.Minute, "publish", scenes[i], "--replicas", "2")
		jobs = append(jobs, lastLine(out))
	}
	for i, pub := range []*proc{pubA, pubB} {
		waitStatus(t, pub.home, jobs[i], 3*time.Minute, "the job to complete", func(st jobStatus) bool {
			return st.State == "completed"
		})
	}
	// A new volunteer's frames are replicated on two peers, never twice
	// on one: both volunteers rendered both jobs. Fetching the file a
	// second time would add 32 MiB; what comes on top of one copy is the
	// scenes' small files, listings, and pieces that arrived from two
	// peers at once at the end of a download (about 1 MiB on a loaded
	// machine).
	for i, v := range vs {
		got := statsOf(t, v.home).Downloaded
		t.Logf("volunteer %d received %d bytes for two scenes sharing a %d-byte file", i, got, len(texture))
		if slack := int64(len(texture) / 8); got < int64(len(texture)) || got > int64(len(texture))+slack {
			t.Errorf("volunteer %d received %d bytes; want the shared %d-byte file once (at most %d bytes more)", i, got, len(texture), slack)
		}
	}
}
