package credits

import (
	"errors"
	"fmt"
	"image"
	"slices"
)

// Outcome is what the coordinator does next with a task's replicas.
type Outcome int

const (
	// Waiting: fewer results than the quorum; wait for the outstanding ones.
	Waiting Outcome = iota
	// Accepted: the canonical result is chosen.
	Accepted
	// NeedReplica: the results disagree; lease the task to another volunteer.
	NeedReplica
	// Undecided: the replica budget is spent without agreement. Nobody is
	// penalized; the coordinator may requeue the task later or fail it.
	Undecided
)

func (o Outcome) String() string {
	switch o {
	case Waiting:
		return "waiting"
	case Accepted:
		return "accepted"
	case NeedReplica:
		return "need-replica"
	case Undecided:
		return "undecided"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Decision is the verdict on one task's replicas, by index in the order the
// caller gave them (the order results arrived).
type Decision struct {
	Outcome   Outcome
	Canonical int   // the accepted result when Accepted, else -1
	Agreeing  []int // results that match the canonical one, itself included
	// Losers are the results outvoted by a strict majority that agrees with
	// the canonical result (2-of-3). They, and only they, lost a vote: a
	// mismatch without a majority penalizes nobody.
	Losers []int
}

// Decide applies the quorum rule to n valid results (results that failed
// Sanity or CheckCommitment are failures, not votes: leave them out). agree
// reports whether results i and j match (it is called with i < j and taken
// as symmetric); quorum is the number of agreeing results needed (the
// manifest's Replicas, or 2 when the coordinator chose to replicate); at most
// maxReplicas results are collected.
//
// The canonical result is the one that agrees with the most others (the
// earliest on a tie). It is accepted when its group — it and the results
// agreeing with it — reaches the quorum and is strictly larger than the group
// of any result outside it; otherwise more replicas are needed, up to
// maxReplicas.
func Decide(n int, agree func(i, j int) bool, quorum, maxReplicas int) Decision {
	quorum = max(quorum, 1)
	maxReplicas = max(maxReplicas, quorum)
	d := Decision{Canonical: -1}
	if n <= 0 {
		d.Outcome = Waiting
		return d
	}
	adj := make([][]bool, n)
	for i := range adj {
		adj[i] = make([]bool, n)
	}
	degree := make([]int, n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			if agree(i, j) {
				adj[i][j], adj[j][i] = true, true
				degree[i]++
				degree[j]++
			}
		}
	}
	best := 0
	for i := range n {
		if degree[i] > degree[best] {
			best = i
		}
	}
	group := []int{best}
	var others []int
	for i := range n {
		switch {
		case i == best:
		case adj[best][i]:
			group = append(group, i)
		default:
			others = append(others, i)
		}
	}
	slices.Sort(group)
	rivalTies := slices.ContainsFunc(others, func(j int) bool { return degree[j]+1 >= len(group) })
	switch {
	case len(group) >= quorum && !rivalTies:
		d.Outcome, d.Canonical, d.Agreeing = Accepted, best, group
		if 2*len(group) > n && len(others) > 0 {
			d.Losers = others
		}
	case n < quorum:
		d.Outcome = Waiting
	case n < maxReplicas:
		d.Outcome = NeedReplica
	default:
		d.Outcome = Undecided
	}
	return d
}

// DecideImages compares every pair of decoded results under p and applies
// Decide. A constant image (see Sanity) is never accepted alone: with a
// quorum of 1 it still needs an identical second result. The comparisons
// are returned by pair (i < j) for logging and calibration. The error wraps
// ErrWrongSize when the images differ in size.
func DecideImages(p Profile, imgs []image.Image, quorum, maxReplicas int) (Decision, map[[2]int]Comparison, error) {
	cmp := make(map[[2]int]Comparison)
	for i := range imgs {
		for j := i + 1; j < len(imgs); j++ {
			c, err := Compare(p, imgs[i], imgs[j])
			if err != nil {
				return Decision{}, nil, fmt.Errorf("replicas %d and %d: %w", i, j, err)
			}
			cmp[[2]int{i, j}] = c
		}
	}
	constant := make([]bool, len(imgs))
	for i, img := range imgs {
		constant[i] = errors.Is(Sanity(img, img.Bounds().Size()), ErrConstant)
	}
	agree := func(i, j int) bool {
		c := cmp[[2]int{i, j}]
		if constant[i] || constant[j] {
			return c.Exact
		}
		return c.Match
	}
	d := Decide(len(imgs), agree, quorum, maxReplicas)
	if d.Outcome == Accepted && constant[d.Canonical] && len(d.Agreeing) < 2 {
		d = Decide(len(imgs), agree, 2, maxReplicas)
	}
	return d, cmp, nil
}
