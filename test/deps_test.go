package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/renderswarm/renderswarm"

// under reports whether pkg is dir or inside it (module-relative paths).
func under(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

// ours reports whether imp is one of the module's packages in dir.
func ours(imp, dir string) bool {
	return strings.HasPrefix(imp, module+"/") && under(strings.TrimPrefix(imp, module+"/"), dir)
}

// std reports whether imp is in the standard library.
func std(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}

// only denies every import but the standard library (minus stdDenied) and
// the listed ones.
func only(stdDenied []string, allowed ...string) func(string) bool {
	return func(imp string) bool {
		if std(imp) {
			for _, d := range stdDenied {
				if imp == d || strings.HasPrefix(imp, d+"/") {
					return true
				}
			}
			return false
		}
		for _, a := range allowed {
			if base, tree := strings.CutSuffix(a, "/..."); imp == a || tree && under(imp, base) {
				return false
			}
		}
		return true
	}
}

// importRules is the one table of DESIGN.md §2's package rules: leaves at
// the bottom, node at the top, the roles apart, one owner per heavy
// dependency. Each rule denies some imports to some packages (production
// code; tests may reach further).
var importRules = []struct {
	why     string
	applies func(pkg string) bool
	denied  func(imp string) bool
}{
	{"nothing imports node but cmd",
		func(p string) bool { return !under(p, "cmd") && p != "node" },
		func(i string) bool { return ours(i, "node") }},
	{"nothing imports cmd",
		func(p string) bool { return true },
		func(i string) bool { return ours(i, "cmd") }},
	{"only node imports the roles",
		func(p string) bool { return p != "node" && !under(p, "cmd") && p != "publisher" && p != "volunteer" },
		func(i string) bool { return ours(i, "publisher") || ours(i, "volunteer") }},
	{"the publisher never imports the volunteer, gui, node or cmd",
		func(p string) bool { return p == "publisher" },
		func(i string) bool {
			return ours(i, "volunteer") || ours(i, "gui") || ours(i, "node") || ours(i, "cmd")
		}},
	{"the volunteer never imports the publisher, gui, node or cmd",
		func(p string) bool { return p == "volunteer" },
		func(i string) bool {
			return ours(i, "publisher") || ours(i, "gui") || ours(i, "node") || ours(i, "cmd")
		}},
	{"the work protocol knows no role, asset store, renderer or scheduler",
		func(p string) bool { return p == "work" },
		func(i string) bool {
			for _, d := range []string{"publisher", "volunteer", "node", "gui", "assets", "render", "scheduler"} {
				if ours(i, d) {
					return true
				}
			}
			return false
		}},
	// Test-support packages (assetstest, rendertest, roletest) may build
	// bare hosts for tests and benchmarks; production code may not.
	{"only p2p constructs libp2p, the DHT and pub/sub",
		func(p string) bool { return p != "p2p" && !strings.HasSuffix(p, "test") },
		func(i string) bool {
			return i == "github.com/libp2p/go-libp2p" || strings.HasPrefix(i, "github.com/libp2p/go-libp2p-kad-dht") ||
				strings.HasPrefix(i, "github.com/libp2p/go-libp2p-pubsub")
		}},
	{"only assets imports anacrolix/torrent",
		func(p string) bool { return !under(p, "assets") },
		func(i string) bool { return strings.HasPrefix(i, "github.com/anacrolix/torrent") }},
	{"assets is below node, cmd and gui",
		func(p string) bool { return under(p, "assets") },
		func(i string) bool { return ours(i, "node") || ours(i, "cmd") || ours(i, "gui") }},
	{"job is the leaf: the standard library, go-cid, go-multihash and libp2p's peer and crypto types only",
		func(p string) bool { return p == "job" },
		only(nil, "github.com/ipfs/go-cid", "github.com/multiformats/go-multihash",
			"github.com/libp2p/go-libp2p/core/peer", "github.com/libp2p/go-libp2p/core/crypto/...")},
	{"credits is pure logic over a database handle: no sockets, no files",
		func(p string) bool { return p == "credits" },
		only([]string{"net", "os"}, module+"/job", module+"/internal/db", "github.com/ipfs/go-cid",
			"github.com/libp2p/go-libp2p/core/peer", "github.com/libp2p/go-libp2p/core/crypto")},
	{"scheduler is pure decisions: no sockets, no files, no database",
		func(p string) bool { return p == "scheduler" },
		only([]string{"net", "os", "database"}, module+"/job", "github.com/ipfs/go-cid",
			"github.com/libp2p/go-libp2p/core/peer", "github.com/multiformats/go-multihash")},
	{"collections are below node, cmd, gui and the roles",
		func(p string) bool { return p == "collection" },
		func(i string) bool {
			for _, d := range []string{"node", "cmd", "gui", "publisher", "volunteer"} {
				if ours(i, d) {
					return true
				}
			}
			return false
		}},
	{"gui depends on no component; node adapts them to its interfaces",
		func(p string) bool { return under(p, "gui") },
		func(i string) bool {
			for _, c := range []string{"node", "p2p", "assets", "collection", "render", "scheduler", "credits", "publisher", "volunteer", "work"} {
				if ours(i, c) {
					return true
				}
			}
			return false
		}},
	{"render backends do not reach the network",
		func(p string) bool { return under(p, "render") },
		func(i string) bool {
			return strings.HasPrefix(i, "github.com/libp2p/") || ours(i, "p2p") || ours(i, "assets") || ours(i, "work")
		}},
	{"internal packages serve the components and import none above them",
		func(p string) bool { return under(p, "internal") && !under(p, "internal/adversary") },
		func(i string) bool {
			for _, c := range []string{"node", "cmd", "gui", "publisher", "volunteer", "p2p", "work"} {
				if ours(i, c) {
					return true
				}
			}
			return false
		}},
	// The adversary kit plays hostile peers in attack tests: it speaks p2p,
	// assets and work like any peer, but is never part of a node.
	{"only tests, benchmarks and test programs import the adversary kit",
		func(p string) bool { return !under(p, "internal/adversary") && !under(p, "bench") },
		func(i string) bool { return ours(i, "internal/adversary") }},
	{"the adversary kit is a peer: it never imports node, cmd, gui or the roles",
		func(p string) bool { return under(p, "internal/adversary") },
		func(i string) bool {
			for _, d := range []string{"node", "cmd", "gui", "publisher", "volunteer"} {
				if ours(i, d) {
					return true
				}
			}
			return false
		}},
	{"the Blender add-on's package carries files: the standard library only",
		func(p string) bool { return p == "blender" },
		only(nil)},
}

// TestImportRules checks every package of the module against importRules.
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		imports[strings.TrimPrefix(f[0], module+"/")] = f[1:]
	}
	for _, want := range []string{"job", "credits", "scheduler", "publisher", "volunteer", "work", "node"} {
		if _, ok := imports[want]; !ok {
			t.Fatalf("go list found no package %s (found %d)", want, len(imports))
		}
	}
	for pkg, imps := range imports {
		for _, r := range importRules {
			if !r.applies(pkg) {
				continue
			}
			for _, imp := range imps {
				if r.denied(imp) {
					t.Errorf("%s imports %s: %s", pkg, imp, r.why)
				}
			}
		}
	}
}

// TestNoWallClock: the decision packages and both roles take their time
// from a clock they are given (tests and simulations move it by hand), so
// none of their code reads the wall clock itself.
func TestNoWallClock(t *testing.T) {
	for _, pkg := range []string{"credits", "scheduler", "publisher", "volunteer"} {
		files, err := filepath.Glob(filepath.Join("..", pkg, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no files in %s: %v", pkg, err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			for _, call := range []string{"time.Now(", "time.Since(", "time.Until(", "time.Sleep(", "time.After(", "time.NewTimer(", "time.NewTicker(", "time.Tick(", "time.AfterFunc("} {
				if strings.Contains(string(b), call) {
					t.Errorf("%s calls %s: pass the time in, or use the clock the package is given", name, call)
				}
			}
		}
	}
}
