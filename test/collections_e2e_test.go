package test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// transferStats is `assets stats --json`.
type transferStats struct {
	Uploaded   int64  `json:"uploaded"`
	Downloaded int64  `json:"downloaded"`
	BTListen   string `json:"bt_listen"`
}

func statsOf(t *testing.T, home string) transferStats {
	t.Helper()
	var st transferStats
	if err := json.Unmarshal([]byte(mustRun(t, home, 30*time.Second, "assets", "stats", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// A publishes collection textures v1 (nested folders, a 64 MiB file, many
// small files); B gets it. A publishes v2 changing one small file: B's
// fetch of v2 receives only that file, and both versions stay readable.
func TestCollectionVersionsFetchOnlyChanges(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	skipIfShort(t)
	src := filepath.Join(t.TempDir(), "textures")
	makeTree(t, src, 64)
	for i := range 300 {
		writeFile(t, filepath.Join(src, "decals", fmt.Sprintf("set%d", i%9), fmt.Sprintf("d%03d.txt", i)),
			strings.Repeat(fmt.Sprintf("decal %d\n", i), 1+i%50))
	}
	want1 := treeDigest(t, src)

	a := startNode(t, "")
	b := startNode(t, "", "--bootstrap", a.tcpAddr())

	v1 := lastLine(mustRun(t, a.home, 2*time.Minute, "assets", "publish", "textures", src))
	ref := a.id + "/textures"
	out1 := t.TempDir()
	r := run(t, b.home, 3*time.Minute, "assets", "get", ref, "-o", out1, "--timeout", "2m")
	if r.code != 0 {
		t.Fatalf("B: assets get %s: exit %d: %s", ref, r.code, r.stderr)
	}
	if got := lastLine(r.stdout); got != v1 {
		t.Fatalf("B got %s for %s, want v1's listing %s", got, ref, v1)
	}
	sameTree(t, want1, treeDigest(t, out1))
	before := statsOf(t, b.home).Downloaded

	// v2: one small file changes.
	changed := make([]byte, 3000)
	rand.Read(changed)
	writeFile(t, filepath.Join(src, "meshes/part03/010.obj"), string(changed))
	want2 := treeDigest(t, src)
	v2 := lastLine(mustRun(t, a.home, 2*time.Minute, "assets", "publish", "textures", src))
	if v2 == v1 {
		t.Fatal("v2 has v1's listing")
	}
	diff := mustRun(t, b.home, time.Minute, "assets", "diff", ref+"@1", ref+"@2")
	if !strings.Contains(diff, "M meshes/part03/010.obj") || strings.Count(diff, "\n") != 2 {
		t.Fatalf("diff of v1 and v2:\n%s\nwant the one changed file", diff)
	}
	out2 := t.TempDir()
	r = run(t, b.home, 3*time.Minute, "assets", "get", ref, "-o", out2, "--timeout", "2m")
	if r.code != 0 {
		t.Fatalf("B: assets get %s (v2): exit %d: %s", ref, r.code, r.stderr)
	}
	if got := lastLine(r.stdout); got != v2 {
		t.Fatalf("B got %s for %s after v2, want %s", got, ref, v2)
	}
	sameTree(t, want2, treeDigest(t, out2))
	if got := statsOf(t, b.home).Downloaded - before; got != int64(len(changed)) {
		t.Fatalf("B received %d bytes for v2, want %d (the changed file only)", got, len(changed))
	}
	t.Logf("v1: %d bytes received; v2: %d", before, len(changed))

	// Both versions stay readable, by version.
	old := t.TempDir()
	mustRun(t, b.home, time.Minute, "assets", "get", ref+"@1", "-o", old, "--timeout", "30s")
	sameTree(t, want1, treeDigest(t, old))
	versions := mustRun(t, b.home, time.Minute, "assets", "versions", ref)
	if !strings.Contains(versions, v1) || !strings.Contains(versions, v2) {
		t.Fatalf("B's versions of %s:\n%s", ref, versions)
	}
}
