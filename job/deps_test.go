package job

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// job is the leaf everyone imports: it may import only the standard library,
// go-cid, go-multihash and libp2p's core/peer and core/crypto.
func TestImportsStayLeaf(t *testing.T) {
	allowed := map[string]bool{
		"github.com/ipfs/go-cid":                     true,
		"github.com/multiformats/go-multihash":       true,
		"github.com/libp2p/go-libp2p/core/peer":      true,
		"github.com/libp2p/go-libp2p/core/crypto":    true,
		"github.com/libp2p/go-libp2p/core/crypto/pb": true,
	}
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
			if !strings.Contains(first, ".") || allowed[p] {
				continue // standard library or allowed
			}
			t.Errorf("%s imports %s: job must stay a leaf (see doc.go)", name, p)
		}
	}
}
