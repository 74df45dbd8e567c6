package main

import (
	"testing"

	"github.com/renderswarm/renderswarm/gui"
)

func TestSandboxLine(t *testing.T) {
	why := "bubblewrap does not work here: no namespaces"
	for _, c := range []struct {
		s    gui.Sandbox
		want string
	}{
		{gui.Sandbox{Working: true, Renderers: map[string]string{"povray": gui.SandboxWorking}}, "sandbox: working"},
		{gui.Sandbox{Problem: "blender: " + why, Renderers: map[string]string{"blender": why, "povray": gui.SandboxWorking}},
			"sandbox: not working (blender: " + why + "); strangers' scenes are not rendered with blender"},
		{gui.Sandbox{Problem: "x", Renderers: map[string]string{"blender": "x", "povray": "x"}},
			"sandbox: not working (x); strangers' scenes are not rendered with blender or povray"},
		{gui.Sandbox{Problem: "x", Renderers: map[string]string{"povray": "x"}, AllowUnsandboxed: true},
			"sandbox: not working (x); strangers' scenes render unsandboxed all the same (--allow-unsandboxed)"},
	} {
		if got := sandboxLine(c.s); got != c.want {
			t.Errorf("sandboxLine(%+v) = %q, want %q", c.s, got, c.want)
		}
	}
}
