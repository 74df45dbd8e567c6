package credits

import (
	"bytes"
	"cmp"
	"math"
	"math/bits"
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
// contribution in CU, in the manner of BarterCast (Meulpolder et al., 2009):
//
//	priority(p) = flow(p → e) − flow(e → p)
//
// over the work graph whose edge v → u weighs the milli-CU volunteer v
// rendered for publisher u: the largest Total among the pair's receipts, so
// passing a chain's every receipt or only its latest gives the same result.
// Flows use paths of at most two hops:
//
//	flow(a → b) = w(a→b) + Σ_{y ∉ {a,b}} share_y(a)
//
// A path a → y → b carries at most min(w(a→y), w(y→b)), as in BarterCast's
// bounded max flow; unlike it, when several peers reach b through the same
// y, y's edge to b is split among them in proportion to their edges into y
// (share_y(a) = min(w(a→y), w(y→b)·w(a→y)/Σ_x w(x→y)), x ∉ {y, b}). The
// result is one feasible flow for all peers at once, so the credit all
// indirect contributors get through y together never exceeds the real work
// y did for b.
//
// Hence a peer counts only what it rendered for the evaluator, or for peers
// who rendered for the evaluator, up to what they did: a clique of fake
// identities minting receipts among themselves reaches the evaluator
// through no real edge and scores 0, and fakes hanging off one honest worker
// share that worker's real work between them. Consumption is bounded the
// same way: what the evaluator rendered for p, directly or for peers who in
// turn rendered for p, lowers p's priority.
//
// Receipts must be verified (the Ledger stores only verified ones) and are
// trusted as given; receipts not naming the evaluator should be
// countersigned. The evaluator's own priority is +Inf (own jobs first). The
// arithmetic is exact integer milli-CU, so the result does not depend on the
// receipts' order.
func Priority(evaluator peer.ID, receipts []Receipt) Priorities {
	p := Priorities{self: evaluator, score: make(map[peer.ID]float64), known: make(map[peer.ID]bool)}
	g := graph{w: make(map[edge]int64), in: make(map[peer.ID]int64), out: make(map[peer.ID]int64)}
	for _, r := range receipts {
		if r.Publisher == r.Volunteer || r.Total <= 0 {
			continue
		}
		e := edge{r.Volunteer, r.Publisher}
		g.w[e] = max(g.w[e], min(r.Total, MaxMilliCU))
		p.known[r.Volunteer], p.known[r.Publisher] = true, true
	}
	// Totals into and out of every intermediary, edges touching the
	// evaluator excluded (they are the other leg of the path).
	for e, v := range g.w {
		if e.from != evaluator && e.to != evaluator {
			g.in[e.to] = satAdd(g.in[e.to], v)
			g.out[e.from] = satAdd(g.out[e.from], v)
		}
	}
	contrib := make(map[peer.ID]int64) // flow(p → e)
	consume := make(map[peer.ID]int64) // flow(e → p)
	for e, v := range g.w {
		switch {
		case e.to == evaluator:
			contrib[e.from] = satAdd(contrib[e.from], v)
		case e.from == evaluator:
			consume[e.to] = satAdd(consume[e.to], v)
		default:
			// p → y → e with p = e.from, y = e.to.
			if ye := g.w[edge{e.to, evaluator}]; ye > 0 {
				contrib[e.from] = satAdd(contrib[e.from], share(v, ye, g.in[e.to]))
			}
			// e → y → p with y = e.from, p = e.to.
			if ey := g.w[edge{evaluator, e.from}]; ey > 0 {
				consume[e.to] = satAdd(consume[e.to], share(v, ey, g.out[e.from]))
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

type edge struct{ from, to peer.ID }

type graph struct {
	w       map[edge]int64
	in, out map[peer.ID]int64 // per intermediary, over edges not touching the evaluator
}

// share returns min(leg, other·leg/sum): a path's part of the other leg's
// capacity, in proportion to its leg among all legs summing to sum ≥ leg,
// computed exactly in 128 bits.
func share(leg, other, sum int64) int64 {
	if sum <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(other), uint64(leg))
	q, _ := bits.Div64(hi, lo, uint64(sum)) // q ≤ other since leg ≤ sum: no overflow
	return min(leg, int64(q))
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
