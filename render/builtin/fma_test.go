package builtin

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"go/ast"
	"go/importer"
	goparser "go/parser"
	"go/token"
	"go/types"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestNoUnroundedProducts enforces the rule of vec.go: every floating-point
// product in the package's (non-test) source is wrapped in an explicit
// float64 conversion, so the compiler cannot fuse it into an FMA.
func TestNoUnroundedProducts(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := goparser.ParseFile(fset, n, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	if _, err := conf.Check("builtin", fset, files, info); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		var stack []ast.Node
		ast.Inspect(f, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return false
			}
			if be, ok := n.(*ast.BinaryExpr); ok && be.Op == token.MUL && isUnroundedFloat(info, be, stack) {
				t.Errorf("%s: float product %s is not wrapped in float64(…)", fset.Position(be.Pos()), types.ExprString(be))
			}
			stack = append(stack, n)
			return true
		})
	}
}

func isUnroundedFloat(info *types.Info, be *ast.BinaryExpr, stack []ast.Node) bool {
	tv := info.Types[be]
	if tv.Value != nil { // constant: folded exactly at compile time
		return false
	}
	b, ok := tv.Type.Underlying().(*types.Basic)
	if !ok || b.Info()&types.IsFloat == 0 {
		return false
	}
	// The parent, skipping parentheses, must be a conversion float64(be).
	for i := len(stack) - 1; i >= 0; i-- {
		switch p := stack[i].(type) {
		case *ast.ParenExpr:
			continue
		case *ast.CallExpr:
			id, ok := p.Fun.(*ast.Ident)
			return !ok || id.Name != "float64" || len(p.Args) != 1
		}
		return true
	}
	return true
}

// fmaProbe is x*y + z written the way the rule forbids: the compiler may
// fuse it. The child process reports whether it did, so the test below
// knows it really compared a fusing build against a non-fusing one.
//
//go:noinline
func fmaProbe(x, y, z float64) float64 { return x*y + z }

func fused() bool {
	x := 1 + 0x1p-30
	return fmaProbe(x, x, -(1+0x1p-29)) != 0 // x² - (1+2⁻²⁹) = 2⁻⁶⁰ only when fused
}

// TestPixelsSameWithFMABuild builds this test binary with GOAMD64=v3 (the
// compiler then fuses a*b+c into FMA instructions where the source allows)
// and checks it renders the same pixels as the default build.
func TestPixelsSameWithFMABuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a second test binary; skipped in -short")
	}
	if os.Getenv("RENDERSWARM_DIGEST") != "" {
		t.Skip("running as the child")
	}
	if runtime.GOARCH != "amd64" {
		t.Skipf("GOAMD64=v3 is amd64 only; on %s FMA fusion is the default build, which the other tests run", runtime.GOARCH)
	}
	cpu, err := os.ReadFile("/proc/cpuinfo")
	if err != nil || !bytes.Contains(cpu, []byte(" fma")) || !bytes.Contains(cpu, []byte(" avx2")) {
		t.Skip("this CPU lacks FMA/AVX2 (per /proc/cpuinfo), so it cannot run a GOAMD64=v3 binary")
	}
	bin := filepath.Join(t.TempDir(), "v3.test")
	build := exec.CommandContext(t.Context(), "go", "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOAMD64=v3")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building with GOAMD64=v3: %v\n%s", err, out)
	}
	out := filepath.Join(t.TempDir(), "digest")
	run := exec.CommandContext(t.Context(), bin, "-test.run=^TestWriteDigest$", "-test.count=1")
	run.Env = append(os.Environ(), "RENDERSWARM_DIGEST="+out)
	if b, err := run.CombinedOutput(); err != nil {
		t.Fatalf("running the GOAMD64=v3 binary: %v\n%s", err, b)
	}
	child, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := digestLine(t)
	if !strings.HasPrefix(string(child), "fused=true ") {
		t.Fatalf("the GOAMD64=v3 build did not fuse x*y+z (%q): the comparison proves nothing", child)
	}
	if strings.TrimPrefix(string(child), "fused=true ") != strings.TrimPrefix(want, fmt.Sprintf("fused=%v ", fused())) {
		t.Errorf("pixels differ between builds:\n default: %s\n v3:      %s", want, child)
	}
}

// digestLine renders two fixture frames and returns "fused=BOOL DIGEST
// DIGEST": the first over the decoded PNG, the second over the bits of the
// linear float64 pixel values before quantisation, which any last-bit
// difference changes.
func digestLine(t *testing.T) string {
	task := fixtureTask(t, 4)
	png := pixelDigest(renderRGBA(t, task))
	task.Frame, task.Samples = 8, 9
	sc, _, err := loadScene(task)
	if err != nil {
		t.Fatal(err)
	}
	w := sc.at(task.Frame, task.Width, task.Height)
	h := sha256.New()
	for y := range task.Height {
		for x := range task.Width {
			c := w.pixel(task, x, y)
			binary.Write(h, binary.LittleEndian, [3]uint64{
				math.Float64bits(c.x), math.Float64bits(c.y), math.Float64bits(c.z)})
		}
	}
	return fmt.Sprintf("fused=%v %s %x", fused(), png, h.Sum(nil))
}

// TestWriteDigest is the child half of TestPixelsSameWithFMABuild.
func TestWriteDigest(t *testing.T) {
	out := os.Getenv("RENDERSWARM_DIGEST")
	if out == "" {
		t.Skip("only run by TestPixelsSameWithFMABuild")
	}
	if err := os.WriteFile(out, []byte(digestLine(t)), 0o644); err != nil {
		t.Fatal(err)
	}
}
