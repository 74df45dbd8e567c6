package p2p

import (
	"sort"
	"strings"
)

// agentProduct starts every renderswarm node's libp2p user agent.
const agentProduct = "renderswarm/1"

// Agent is the user agent a node advertises: the product, then each
// renderer it offers as name/version, e.g.
// "renderswarm/1 builtin/1.0.0 povray/3.7.0.10".
func Agent(renderers map[string]string) string {
	parts := []string{agentProduct}
	for name, version := range renderers {
		if clean(name) && clean(version) {
			parts = append(parts, name+"/"+version)
		}
	}
	sort.Strings(parts[1:])
	return strings.Join(parts, " ")
}

// ParseAgent returns the renderers a peer advertises, or nil for a peer
// that is not a renderswarm node. It is data from a stranger: malformed
// items are skipped.
func ParseAgent(agent string) map[string]string {
	fields := strings.Fields(agent)
	if len(fields) == 0 || fields[0] != agentProduct {
		return nil
	}
	out := map[string]string{}
	for _, f := range fields[1:] {
		name, version, ok := strings.Cut(f, "/")
		if ok && clean(name) && clean(version) && len(out) < 32 {
			out[name] = version
		}
	}
	return out
}

// clean reports whether s is a short token without spaces or slashes.
func clean(s string) bool {
	return s != "" && len(s) <= 64 && !strings.ContainsAny(s, " /\t\n")
}
