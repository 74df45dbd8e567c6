package node

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/render"
)

// recorder is a backend that records the tasks it is asked to render.
type recorder struct {
	render.Backend
	tasks []render.Task
}

func (r *recorder) Render(_ context.Context, t render.Task, _ func(render.Progress)) (render.Result, error) {
	r.tasks = append(r.tasks, t)
	return render.Result{}, nil
}

// A renderer whose sandbox does not work is neither offered nor rendered
// with for strangers, whatever a publisher grants, until the user allows
// it; the built-in renderer and a sandboxed one always are; every render
// is capped at the user's memory setting.
func TestSandboxPolicy(t *testing.T) {
	p := &sandboxPolicy{installed: []string{"blender", "builtin", "povray"},
		needs: map[string]string{"blender": "bubblewrap does not work here: no namespaces", "povray": ""}}
	if got := p.offered(nil); !slices.Equal(got, []string{"builtin", "povray"}) {
		t.Errorf("offered of all: %v", got)
	}
	if got := p.offered([]string{"blender"}); got == nil || len(got) != 0 {
		t.Errorf("offered of blender alone: %#v, want empty, not nil (nil means all)", got)
	}
	if got := volunteerSettings(gui.Settings{}, p).Renderers; !slices.Equal(got, []string{"builtin", "povray"}) {
		t.Errorf("volunteer's renderers: %v", got)
	}
	st := p.state()
	if st.Working || !strings.Contains(st.Problem, "blender: bubblewrap") || st.Renderers["povray"] != gui.SandboxWorking || st.AllowUnsandboxed {
		t.Errorf("state %+v", st)
	}

	rec := &recorder{}
	limit := int64(2 << 30)
	g := guardBackends(map[string]render.Backend{"blender": rec, "builtin": rec}, p, func() int64 { return limit })
	_, err := g["blender"].Render(t.Context(), render.Task{}, nil)
	if !errors.Is(err, render.ErrUnavailable) || len(rec.tasks) != 0 {
		t.Errorf("blender without a sandbox: err %v, %d renders; want ErrUnavailable and none", err, len(rec.tasks))
	}
	for _, c := range []struct{ task, want int64 }{{0, 2 << 30}, {1 << 30, 1 << 30}, {8 << 30, 2 << 30}} {
		g["builtin"].Render(t.Context(), render.Task{MemoryLimit: c.task}, nil)
		if got := rec.tasks[len(rec.tasks)-1].MemoryLimit; got != c.want {
			t.Errorf("task limit %d under a cap of %d: rendered with %d, want %d", c.task, limit, got, c.want)
		}
	}

	p.allow.Store(true)
	if got := p.offered(nil); !slices.Equal(got, p.installed) {
		t.Errorf("offered when allowed: %v", got)
	}
	if _, err := g["blender"].Render(t.Context(), render.Task{}, nil); err != nil {
		t.Errorf("blender when allowed: %v", err)
	}
	if !p.state().AllowUnsandboxed {
		t.Error("state does not say unsandboxed rendering is allowed")
	}
}
