package test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/renderswarm/renderswarm"

// TestImportDirection keeps DESIGN.md's package rules true: leaves at the
// bottom, node at the top, one owner per heavy dependency.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		imports[strings.TrimPrefix(f[0], module+"/")] = f[1:]
	}
	if len(imports) < 5 {
		t.Fatalf("go list found only %d packages", len(imports))
	}
	under := func(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }
	rules := []struct {
		why     string
		applies func(pkg string) bool
		denied  func(imp string) bool
	}{
		{"nothing imports node but cmd",
			func(p string) bool { return !under(p, "cmd") && p != "node" },
			func(i string) bool { return i == module+"/node" }},
		{"nothing imports cmd",
			func(p string) bool { return true },
			func(i string) bool { return strings.HasPrefix(i, module+"/cmd") }},
		// Test-support packages (assetstest, rendertest) may build bare
		// hosts for tests and benchmarks; production code may not.
		{"only p2p constructs libp2p, the DHT and pub/sub",
			func(p string) bool { return p != "p2p" && !strings.HasSuffix(p, "test") },
			func(i string) bool {
				return i == "github.com/libp2p/go-libp2p" || strings.HasPrefix(i, "github.com/libp2p/go-libp2p-kad-dht") ||
					strings.HasPrefix(i, "github.com/libp2p/go-libp2p-pubsub")
			}},
		{"only assets imports anacrolix/torrent",
			func(p string) bool { return !under(p, "assets") },
			func(i string) bool { return strings.HasPrefix(i, "github.com/anacrolix/torrent") }},
		{"job imports only the standard library, go-cid, multihash and libp2p core",
			func(p string) bool { return p == "job" },
			func(i string) bool {
				return strings.Contains(strings.SplitN(i, "/", 2)[0], ".") &&
					i != "github.com/ipfs/go-cid" && i != "github.com/multiformats/go-multihash" &&
					!strings.HasPrefix(i, "github.com/libp2p/go-libp2p/core/")
			}},
		{"scheduler and credits hold no sockets and no network stack (libp2p's core vocabulary is fine)",
			func(p string) bool { return under(p, "scheduler") || under(p, "credits") },
			func(i string) bool {
				return i == "net" || i == "net/http" ||
					strings.HasPrefix(i, "github.com/libp2p/") && !strings.HasPrefix(i, "github.com/libp2p/go-libp2p/core/") ||
					strings.HasPrefix(i, module+"/p2p") || strings.HasPrefix(i, module+"/assets")
			}},
		{"gui depends on no component; node adapts them to its interfaces",
			func(p string) bool { return under(p, "gui") },
			func(i string) bool {
				for _, c := range []string{"node", "p2p", "assets", "render", "scheduler", "credits"} {
					if i == module+"/"+c || strings.HasPrefix(i, module+"/"+c+"/") {
						return true
					}
				}
				return false
			}},
		{"render backends do not reach the network",
			func(p string) bool { return under(p, "render") },
			func(i string) bool {
				return strings.HasPrefix(i, "github.com/libp2p/") || i == module+"/p2p" || i == module+"/assets"
			}},
	}
	for pkg, imps := range imports {
		for _, r := range rules {
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
