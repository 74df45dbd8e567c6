package p2p

import (
	"context"
	"testing"
	"time"
)

func TestAgentRoundTrip(t *testing.T) {
	r := map[string]string{"povray": "3.7.0.10", "builtin": "1.0.0", "bad name": "1"}
	a := Agent(r)
	if a != "renderswarm/1 builtin/1.0.0 povray/3.7.0.10" {
		t.Fatalf("Agent = %q", a)
	}
	got := ParseAgent(a)
	if len(got) != 2 || got["povray"] != "3.7.0.10" || got["builtin"] != "1.0.0" {
		t.Fatalf("ParseAgent = %v", got)
	}
	if ParseAgent("go-ipfs/0.30 builtin/1") != nil {
		t.Fatal("a foreign agent parsed as a renderswarm node")
	}
}

func FuzzParseAgent(f *testing.F) {
	f.Add("renderswarm/1 builtin/1.0.0 povray/3.7.0.10")
	f.Add("renderswarm/1 a/b/c //")
	f.Fuzz(func(t *testing.T, s string) {
		r := ParseAgent(s)
		if r == nil {
			return
		}
		// Property: what parses re-encodes and parses to the same renderers.
		again := ParseAgent(Agent(r))
		if len(again) != len(r) {
			t.Fatalf("%q: %v then %v", s, r, again)
		}
		for k, v := range r {
			if again[k] != v {
				t.Fatalf("%q: %v then %v", s, r, again)
			}
		}
	})
}

// Peers see each other's renderers through identify.
func TestPeersSeeRenderers(t *testing.T) {
	cfg := TestingConfig(t)
	cfg.Renderers = map[string]string{"builtin": "1.0.0"}
	a := startNode(t, cfg)
	b := startNode(t, TestingConfig(t, a.AddrInfo()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.WaitRouting(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "identify", 10*time.Second, func() bool {
		for _, p := range b.Peers() {
			if p.ID == a.ID() && ParseAgent(p.Agent)["builtin"] == "1.0.0" {
				return true
			}
		}
		return false
	})
}
