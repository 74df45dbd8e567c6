package credits

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// credits is pure logic: the standard library, job, the database helper,
// go-cid and libp2p's peer and crypto types only, so it never grows a socket
// or a wall clock (see doc.go).
func TestImportsStayPure(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(p, "/")
			switch {
			case p == "github.com/renderswarm/renderswarm/job",
				p == "github.com/renderswarm/renderswarm/internal/db",
				p == "github.com/ipfs/go-cid",
				p == "github.com/libp2p/go-libp2p/core/peer",
				p == "github.com/libp2p/go-libp2p/core/crypto":
			case !strings.Contains(first, "."):
				if p == "net" || strings.HasPrefix(p, "net/") || p == "os" || strings.HasPrefix(p, "os/") {
					t.Errorf("%s imports %s: credits holds no sockets and touches no files", name, p)
				}
			default:
				t.Errorf("%s imports %s: credits may import only the standard library, job, internal/db, go-cid and libp2p core/peer and core/crypto", name, p)
			}
		}
	}
}

// Time is passed in: no file reads the wall clock.
func TestNoWallClock(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, call := range []string{"time.Now(", "time.Since(", "time.Until(", "time.Sleep(", "time.After(", "time.NewTimer(", "time.NewTicker(", "time.Tick("} {
			if strings.Contains(string(b), call) {
				t.Errorf("%s calls %s: credits reads no clock; pass the time in", name, call)
			}
		}
	}
}
