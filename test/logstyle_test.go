package test

import (
	"go/ast"
	"go/constant"
	"go/types"
	"regexp"
	"testing"

	"golang.org/x/tools/go/packages"
)

// eventName is the one style of log messages and attribute keys: a short
// lowerCamelCase name of what happened ("jobPublished", "leasesExpired")
// with everything variable in attributes under lowerCamelCase keys
// ("task", "peer", "err"), so that logs can be filtered by event and key.
var eventName = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)

// TestLogStyle enforces it on every call to log/slog in the module's
// production code: the message and every key must be a constant in that
// style (Syncthing enforces its style with sloglint; this is ours).
func TestLogStyle(t *testing.T) {
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax |
		packages.NeedTypes | packages.NeedTypesInfo, Dir: ".."}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		t.Fatal(err)
	}
	if packages.PrintErrors(pkgs) > 0 || len(pkgs) < 10 {
		t.Fatalf("loading the module's packages failed (%d loaded)", len(pkgs))
	}
	calls := 0
	for _, p := range pkgs {
		for _, f := range p.Syntax {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				msg, keys, ok := slogCall(p.TypesInfo, call)
				if !ok {
					return true
				}
				calls++
				pos := p.Fset.Position(call.Pos())
				if msg != nil {
					if s, ok := constString(p.TypesInfo, msg); !ok || !eventName.MatchString(s) {
						t.Errorf("%s: log message %s: want a constant lowerCamelCase event name", pos, render(msg))
					}
				}
				for i := 0; i < len(keys); i++ {
					a := keys[i]
					if tv := p.TypesInfo.Types[a]; tv.Type != nil && types.TypeString(tv.Type, nil) == "log/slog.Attr" {
						continue // an Attr stands for a key and its value
					}
					if s, ok := constString(p.TypesInfo, a); !ok || !eventName.MatchString(s) {
						t.Errorf("%s: log key %s: want a constant lowerCamelCase key", pos, render(a))
					}
					i++ // skip the value
				}
				return true
			})
		}
	}
	if calls < 50 {
		t.Fatalf("found only %d log calls; is the check still looking?", calls)
	}
}

// slogCall recognizes calls of log/slog: Debug, Info, Warn, Error (and
// their Context forms) on a *slog.Logger or the package, and With. It
// returns the message (nil for With) and the key/value arguments.
func slogCall(info *types.Info, call *ast.CallExpr) (msg ast.Expr, kv []ast.Expr, ok bool) {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return nil, nil, false
	}
	fn, ok := info.Uses[sel.Sel].(*types.Func)
	if !ok || fn.Pkg() == nil || fn.Pkg().Path() != "log/slog" {
		return nil, nil, false
	}
	args := call.Args
	switch name := fn.Name(); name {
	case "Debug", "Info", "Warn", "Error":
	case "DebugContext", "InfoContext", "WarnContext", "ErrorContext":
		args = args[1:]
	case "With":
		if call.Ellipsis.IsValid() {
			return nil, nil, false
		}
		return nil, args, true
	default:
		return nil, nil, false
	}
	if len(args) == 0 || call.Ellipsis.IsValid() {
		return nil, nil, false
	}
	return args[0], args[1:], true
}

func constString(info *types.Info, e ast.Expr) (string, bool) {
	tv := info.Types[e]
	if tv.Value == nil || tv.Value.Kind() != constant.String {
		return "", false
	}
	return constant.StringVal(tv.Value), true
}

func render(e ast.Expr) string {
	s := types.ExprString(e)
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return s
}
