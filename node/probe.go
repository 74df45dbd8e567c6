package node

import (
	"context"
	"log/slog"
	"sync"

	"github.com/renderswarm/renderswarm/render"
)

// probed remembers, per process, what each renderer reported: probing
// Blender starts it (about 0.7 s), and every node in a process (the demo's
// swarm) sees the same installed programs.
var probed struct {
	sync.Mutex
	infos    map[string]render.Info // name -> info, for backends that work
	problems map[string]string      // name -> why it does not work
	done     map[string]bool
}

// rendererProblem is why a renderer is not usable here, "" if it is or was
// not probed.
func rendererProblem(name string) string {
	probed.Lock()
	defer probed.Unlock()
	return probed.problems[name]
}

// probeRenderers asks every backend, in parallel and at most once per
// process, what is installed, and returns the ones that work.
func probeRenderers(ctx context.Context, backends map[string]render.Backend, log *slog.Logger) map[string]render.Info {
	probed.Lock()
	defer probed.Unlock()
	if probed.infos == nil {
		probed.infos, probed.done, probed.problems = map[string]render.Info{}, map[string]bool{}, map[string]string{}
	}
	type result struct {
		name string
		info render.Info
		err  error
	}
	var unprobed []string
	for name := range backends {
		if !probed.done[name] {
			unprobed = append(unprobed, name)
		}
	}
	results := make([]result, len(unprobed))
	var wg sync.WaitGroup
	for i, name := range unprobed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			info, err := backends[name].Probe(ctx)
			results[i] = result{name, info, err}
		}()
	}
	wg.Wait()
	for _, r := range results {
		probed.done[r.name] = true
		if r.err != nil {
			log.Info("rendererUnavailable", "renderer", r.name, "err", r.err)
			probed.problems[r.name] = render.LastLine(r.err.Error())
			continue
		}
		probed.infos[r.name] = r.info
	}
	out := map[string]render.Info{}
	for name := range backends {
		if info, ok := probed.infos[name]; ok {
			out[name] = info
		}
	}
	return out
}

// versions maps renderer names to exact versions.
func versions(infos map[string]render.Info) map[string]string {
	out := make(map[string]string, len(infos))
	for name, info := range infos {
		out[name] = info.Version
	}
	return out
}
