package test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// makeTree writes a tree of nested dirs, one large file and many small ones.
func makeTree(t *testing.T, root string, bigMiB int) {
	t.Helper()
	big := make([]byte, bigMiB<<20)
	rand.Read(big)
	files := map[string][]byte{
		"textures/wood/albedo.bin": big,
		"scene.txt":                []byte("camera 0 0 5\n"),
		"empty.txt":                nil,
	}
	for i := 0; i < 60; i++ {
		files[fmt.Sprintf("meshes/part%02d/%03d.obj", i%7, i)] = []byte(strings.Repeat(fmt.Sprintf("v %d 0 0\n", i), i+1))
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// treeDigest maps each regular file's path under root to its SHA-256.
func treeDigest(t *testing.T, root string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, want, got map[string][32]byte) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("fetched %d files, want %d", len(got), len(want))
	}
	for name, h := range want {
		if got[name] != h {
			t.Fatalf("file %s differs or is missing after fetch", name)
		}
	}
}

// The whole foundation as a user meets it: A shares a folder, C fetches it
// by CID, A leaves, and a newcomer D that only knows B still gets it from C.
func TestAssetsShareAcrossProcesses(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	skipIfShort(t)
	src := filepath.Join(t.TempDir(), "shot42")
	makeTree(t, src, 24)
	want := treeDigest(t, src)

	a := startNode(t, "")
	b := startNode(t, "", "--bootstrap", a.tcpAddr())
	c := startNode(t, "", "--bootstrap", a.tcpAddr())

	out := mustRun(t, a.home, time.Minute, "assets", "add", src)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	cid := lines[len(lines)-1]
	if !strings.HasPrefix(cid, "b") {
		t.Fatalf("assets add printed %q; want the CID as the last line", out)
	}
	jsonOut := mustRun(t, a.home, time.Minute, "assets", "add", "--json", src)
	if !strings.Contains(jsonOut, `"cid": "`+cid+`"`) {
		t.Fatalf("adding the same tree again gave %s, want the same CID %s", jsonOut, cid)
	}

	outC := t.TempDir()
	r := run(t, c.home, 2*time.Minute, "assets", "get", cid, "-o", outC, "--timeout", "90s")
	if r.code != 0 {
		t.Fatalf("C: assets get: exit %d: %s", r.code, r.stderr)
	}
	// -o DIR receives the asset's files, as `assets add` was given them.
	sameTree(t, want, treeDigest(t, outC))
	if ls := mustRun(t, c.home, 30*time.Second, "assets", "ls"); !strings.Contains(ls, cid) {
		t.Fatalf("C's assets ls does not list the fetched asset:\n%s", ls)
	}

	a.stop()
	d := startNode(t, "", "--bootstrap", b.tcpAddr())
	outD := t.TempDir()
	r = run(t, d.home, 2*time.Minute, "assets", "get", cid, "-o", outD, "--timeout", "90s")
	if r.code != 0 {
		t.Fatalf("D (after A stopped): assets get: exit %d: %s", r.code, r.stderr)
	}
	sameTree(t, want, treeDigest(t, outD))
}

// Each kind of bad input ends with exit 1 and one clear line.
func TestCLIErrorsAreOneLine(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	skipIfShort(t)
	noNode := t.TempDir()
	r := run(t, noNode, 10*time.Second, "peers")
	expectError(t, "no node", r, "no node is running")

	a := startNode(t, "")
	r = run(t, a.home, 20*time.Second, "node", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--gui", "127.0.0.1:0")
	expectError(t, "second node on the home", r, "home already in use")

	r = run(t, a.home, 10*time.Second, "assets", "add", filepath.Join(t.TempDir(), "missing"))
	expectError(t, "add a missing path", r, "no such file")

	r = run(t, a.home, 10*time.Second, "assets", "get", "not-a-cid")
	expectError(t, "garbage CID", r, "invalid CID")

	r = run(t, a.home, 10*time.Second, "assets", "get", "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
	expectError(t, "CID of the wrong kind", r, "not an asset CID")

	r = run(t, a.home, 30*time.Second, "assets", "get", "baf5rcfgsi5hinsk3dg4lz7nzfpaszhkemz6punq", "--timeout", "2s")
	expectError(t, "CID nobody provides", r, "gave up after 2s")
}

func expectError(t *testing.T, what string, r result, contains string) {
	t.Helper()
	// Progress lines may come first on stderr; the error is the last line.
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	msg := lines[len(lines)-1]
	if r.code != 1 || !strings.Contains(msg, contains) {
		t.Errorf("%s: exit %d, stderr %q; want exit 1 and one line containing %q", what, r.code, msg, contains)
	}
	if !bytes.HasPrefix([]byte(msg), []byte("renderswarm: ")) {
		t.Errorf("%s: error %q does not start with the program name", what, msg)
	}
}
