package test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
)

// needAria2 returns aria2c's path, skipping the test when it is missing
// (failing under RENDERSWARM_REQUIRE_RENDERERS=1, as in CI).
func needAria2(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("aria2c")
	if err != nil {
		if os.Getenv("RENDERSWARM_REQUIRE_RENDERERS") == "1" {
			t.Fatal("aria2c is required (RENDERSWARM_REQUIRE_RENDERERS=1): apt-get install aria2")
		}
		t.Skip("aria2c not installed (apt-get install aria2): the stock BitTorrent client of this test")
	}
	return p
}

// aria2 runs aria2c with no DHT, peer exchange or local discovery: the
// only peers it can find are those the torrent or magnet link names.
func aria2(t *testing.T, bin string, d time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	base := []string{"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
		"--enable-peer-exchange=false", "--seed-time=0", "--bt-stop-timeout=20", "--summary-interval=0",
		"--console-log-level=warn", "--allow-overwrite=true", "--auto-file-renaming=false", "--bt-save-metadata=false"}
	out, err := exec.CommandContext(ctx, bin, append(base, args...)...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("aria2c still running after %v:\n%s", d, out)
	}
	return string(out), err
}

// A stock client downloads an asset from a node with --bt-listen given
// only the magnet link (which names the node); a .torrent written by
// `assets torrent` is complete for that client over exported files.
func TestStockClientDownloadsFromBTListener(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	skipIfShort(t)
	bin := needAria2(t)
	src := filepath.Join(t.TempDir(), "shot7")
	makeTree(t, src, 6)
	want := treeDigest(t, src)

	a := startNode(t, "", "--bt-listen", "127.0.0.1:0")
	c := lastLine(mustRun(t, a.home, time.Minute, "assets", "add", src))
	if st := statsOf(t, a.home); !strings.HasPrefix(st.BTListen, "127.0.0.1:") {
		t.Fatalf("assets stats reports BitTorrent listener %q", st.BTListen)
	}
	magnet := strings.TrimSpace(mustRun(t, a.home, 30*time.Second, "assets", "magnet", c))
	if !strings.Contains(magnet, "tr=http") || !strings.Contains(magnet, "x.pe=") {
		t.Fatalf("magnet link %s names no node", magnet)
	}

	dl := t.TempDir()
	if out, err := aria2(t, bin, 2*time.Minute, "--dir", dl, magnet); err != nil {
		t.Fatalf("aria2c with the magnet link: %v\n%s", err, out)
	}
	sameTree(t, want, treeDigest(t, filepath.Join(dl, "shot7")))

	// The .torrent over exported files: complete without any peer.
	tf := filepath.Join(t.TempDir(), "shot7.torrent")
	mustRun(t, a.home, 30*time.Second, "assets", "torrent", c, "-o", tf)
	exp := t.TempDir()
	mustRun(t, a.home, time.Minute, "assets", "get", c, "-o", filepath.Join(exp, "shot7"))
	a.stop()
	if out, err := aria2(t, bin, time.Minute, "--check-integrity=true", "--dir", exp, tf); err != nil {
		t.Fatalf("aria2c did not accept the exported files as complete: %v\n%s", err, out)
	}
	// The same check fails on a damaged file: the one above can fail.
	if err := os.WriteFile(filepath.Join(exp, "shot7/scene.txt"), []byte("camera 9 9 9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := aria2(t, bin, time.Minute, "--check-integrity=true", "--bt-stop-timeout=3", "--dir", exp, tf); err == nil {
		t.Fatalf("aria2c accepted a damaged file as complete:\n%s", out)
	}
}

// writeTorrent writes a standard v1 .torrent (as another client makes it)
// of the files under dir/name, with info edited by edit.
func writeTorrent(t *testing.T, dir, name string, edit func(*metainfo.Info)) string {
	t.Helper()
	info := metainfo.Info{PieceLength: 256 << 10}
	if err := info.BuildFromFilePath(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&info)
	}
	ib, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bencode.Marshal(metainfo.MetaInfo{InfoBytes: ib, CreatedBy: "another client"})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name+".torrent")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Bad input to the new commands: each is one line on stderr, exit 1, and
// nothing stored.
func TestSharingBadInputIsOneLine(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	skipIfShort(t)
	data := t.TempDir()
	// Another client's torrent: files in walk order (no empty file, which
	// renderswarm can take only last).
	writeFile(t, filepath.Join(data, "pack/a/big.bin"), strings.Repeat("0123456789abcdef", 1<<16))
	writeFile(t, filepath.Join(data, "pack/b.txt"), "a small file\n")
	a := startNode(t, "")
	b := startNode(t, "", "--bootstrap", a.tcpAddr())
	assetsBefore := mustRun(t, b.home, 30*time.Second, "assets", "ls", "--json")

	// A torrent made elsewhere imports under its CID; another node gets it.
	good := writeTorrent(t, data, "pack", nil)
	c := lastLine(mustRun(t, a.home, time.Minute, "assets", "add-torrent", good, "--data", data))
	mustRun(t, b.home, time.Minute, "assets", "get", c, "--timeout", "30s")
	bAfterGet := mustRun(t, b.home, 30*time.Second, "assets", "ls", "--json")
	if bAfterGet == assetsBefore {
		t.Fatal("B's store did not change after getting the imported torrent")
	}

	// Mismatching pieces.
	bad := writeTorrent(t, data, "pack", func(i *metainfo.Info) { i.Pieces[3] ^= 0xff })
	r := run(t, b.home, time.Minute, "assets", "add-torrent", bad, "--data", data)
	expectError(t, "torrent with a mismatching piece", r, "do not match the torrent")
	// Paths leaving the root.
	for what, path := range map[string][]string{"dot-dot": {"..", "escape.txt"}, "absolute": {"/etc", "passwd"}} {
		evil := writeTorrent(t, data, "pack", func(i *metainfo.Info) { i.Files[0].Path = path })
		r = run(t, b.home, time.Minute, "assets", "add-torrent", evil, "--data", data)
		expectError(t, "torrent naming a "+what+" path", r, "unsafe torrent info")
	}
	if now := mustRun(t, b.home, 30*time.Second, "assets", "ls", "--json"); now != bAfterGet {
		t.Errorf("bad torrents changed B's store:\n%s\nwas\n%s", now, bAfterGet)
	}

	// Collections: a forged record and versions going backwards.
	src := filepath.Join(t.TempDir(), "lib")
	makeTree(t, src, 1)
	mustRun(t, a.home, time.Minute, "assets", "publish", "lib", src)
	writeFile(t, filepath.Join(src, "scene.txt"), "camera 1 2 3\n")
	mustRun(t, a.home, time.Minute, "assets", "publish", "lib", src)
	r = run(t, a.home, time.Minute, "assets", "publish", "lib", src, "--number", "2")
	expectError(t, "publishing a version that is not after the newest", r, "goes backwards")

	ref := a.id + "/lib"
	rec := filepath.Join(t.TempDir(), "v1.json")
	mustRun(t, a.home, 30*time.Second, "assets", "record", ref+"@1", "-o", rec)
	v1, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	// Records given by hand to a node that has heard nothing of lib (B has
	// them already: they were gossiped).
	c2 := startNode(t, "")
	forged := filepath.Join(t.TempDir(), "forged.json")
	writeFile(t, forged, strings.Replace(string(v1), `"version":1`, `"version":7`, 1))
	r = run(t, c2.home, 30*time.Second, "assets", "import-record", forged)
	expectError(t, "forged collection record", r, "does not verify")
	if out := mustRun(t, c2.home, 30*time.Second, "assets", "collections"); !strings.Contains(out, "no collections") {
		t.Errorf("a forged record was stored:\n%s", out)
	}
	rec2 := filepath.Join(t.TempDir(), "v2.json")
	mustRun(t, a.home, 30*time.Second, "assets", "record", ref+"@2", "-o", rec2)
	mustRun(t, c2.home, 30*time.Second, "assets", "import-record", rec2)
	r = run(t, c2.home, 30*time.Second, "assets", "import-record", rec)
	expectError(t, "a record of an older version announced as new", r, "goes backwards")
	if out := mustRun(t, c2.home, 30*time.Second, "assets", "versions", ref); strings.Count(out, "\n") != 2 {
		t.Errorf("versions of %s after the refused import (want v2 alone):\n%s", ref, out)
	}
}
