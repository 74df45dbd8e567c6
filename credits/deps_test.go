package credits

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// credits is pure logic: the standard library and job only, so it never
// grows a socket or a wall clock (see doc.go).
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
			case p == "github.com/renderswarm/renderswarm/job":
			case !strings.Contains(first, "."):
				if p == "net" || strings.HasPrefix(p, "net/") || p == "os" || strings.HasPrefix(p, "os/") {
					t.Errorf("%s imports %s: credits holds no sockets and touches no files", name, p)
				}
			default:
				t.Errorf("%s imports %s: credits may import only job and the standard library", name, p)
			}
		}
	}
}
