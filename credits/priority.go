package credits

import (
	"bytes"
	"cmp"
	"math"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Priorities are one evaluator's view of how much each publisher deserves
// its rendering, in CU (see Priority). The zero value gives everyone 0.
type Priorities struct {
	self  peer.ID
	score map[peer.ID]float64 // CU; peers absent have 0
	known map[peer.ID]bool    // peers named by some receipt
}

// Score is one peer's priority.
type Score struct {
	Peer     peer.ID
	Priority float64 // CU
}

// Priority computes, from the evaluator's point of view, each peer's net
// contribution in CU, BarterCast style (Meulpolder et al., 2009):
//
//	priority(p) = flow(p → e) − flow(e → p)
//
// over the work graph whose edge v → u weighs the milli-CU volunteer v
// rendered for publisher u (the largest Total of the pair's receipts, so
// passing a chain's every receipt or only its latest gives the same
// result). flow is the maximum flow along paths of at most two hops, which
// is exact in closed form because such paths share no edge:
//
//	flow(a → b) = w(a→b) + Σ_{y ∉ {a,b}} min(w(a→y), w(y→b))
//
// So a peer counts only what it rendered for the evaluator, or for peers
// who rendered for the evaluator, up to what they did: a clique of fake
// identities minting huge receipts among themselves reaches the evaluator
// through no real edge and scores 0. Consumption is bounded the same way:
// what the evaluator rendered for p, directly or for peers who in turn
// rendered for p, lowers p's priority.
//
// Receipts must be verified (the Ledger stores only verified ones) and are
// trusted as given; receipts not naming the evaluator should be
// countersigned. The evaluator's own priority is +Inf (own jobs first).
// The arithmetic is exact integer milli-CU, so the result does not depend on
// the receipts' order.
func Priority(evaluator peer.ID, receipts []Receipt) Priorities {
	type edge struct{ from, to peer.ID }
	w := make(map[edge]int64)
	p := Priorities{self: evaluator, score: make(map[peer.ID]float64), known: make(map[peer.ID]bool)}
	for _, r := range receipts {
		if r.Publisher == r.Volunteer || r.Total <= 0 {
			continue
		}
		e := edge{r.Volunteer, r.Publisher}
		w[e] = max(w[e], min(r.Total, MaxMilliCU))
		p.known[r.Volunteer], p.known[r.Publisher] = true, true
	}
	// Neighbours of the evaluator: who rendered for it, whom it rendered for.
	into := make(map[peer.ID]int64)  // y → e
	outOf := make(map[peer.ID]int64) // e → y
	for e, v := range w {
		if e.to == evaluator {
			into[e.from] = v
		}
		if e.from == evaluator {
			outOf[e.to] = v
		}
	}
	contrib := make(map[peer.ID]int64) // flow(p → e)
	consume := make(map[peer.ID]int64) // flow(e → p)
	for e, v := range w {
		switch {
		case e.to == evaluator:
			contrib[e.from] = satAdd(contrib[e.from], v)
		case e.from == evaluator:
			consume[e.to] = satAdd(consume[e.to], v)
		}
		if e.from != evaluator && e.to != evaluator {
			// p → y → e with p = e.from, y = e.to.
			if ye, ok := into[e.to]; ok {
				contrib[e.from] = satAdd(contrib[e.from], min(v, ye))
			}
			// e → y → p with y = e.from, p = e.to.
			if ey, ok := outOf[e.from]; ok {
				consume[e.to] = satAdd(consume[e.to], min(ey, v))
			}
		}
	}
	for id := range p.known {
		if id == evaluator {
			continue
		}
		if net := contrib[id] - consume[id]; net != 0 {
			p.score[id] = float64(net) / 1000
		}
	}
	return p
}

func satAdd(a, b int64) int64 { return min(a+b, math.MaxInt64/2) }

// Of returns p's priority in CU: +Inf for the evaluator, 0 for peers with no
// standing. It suits scheduler.PickerConfig.Priority.
func (p Priorities) Of(id peer.ID) float64 {
	if id == p.self && id != "" {
		return math.Inf(1)
	}
	return p.score[id]
}

// Newcomer reports whether no receipt the evaluator holds names id: such
// publishers share the newcomer slots. A peer that minted receipts with
// fake identities is no newcomer, and its score is still 0: Sybils gain
// nothing over staying new. It suits scheduler.PickerConfig.Newcomer.
func (p Priorities) Newcomer(id peer.ID) bool { return id != p.self && !p.known[id] }

// Ranked returns every peer with a non-zero priority, best first, ties
// broken by peer ID bytes; the evaluator is left out.
func (p Priorities) Ranked() []Score {
	out := make([]Score, 0, len(p.score))
	for id, s := range p.score {
		out = append(out, Score{Peer: id, Priority: s})
	}
	slices.SortFunc(out, func(a, b Score) int {
		return cmp.Or(cmp.Compare(b.Priority, a.Priority), bytes.Compare([]byte(a.Peer), []byte(b.Peer)))
	})
	return out
}
