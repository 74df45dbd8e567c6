package credits

import (
	"errors"
	"fmt"
	"image"
	"slices"

	"github.com/renderswarm/renderswarm/job"
)

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
func Decide(n int, agree func(i, j int) bool, quorum, maxReplicas int) job.Decision {
	quorum = max(quorum, 1)
	maxReplicas = max(maxReplicas, quorum)
	d := job.Decision{Canonical: -1}
	if n <= 0 {
		d.Verdict = job.Waiting
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
		d.Verdict, d.Canonical, d.Agreeing = job.Accept, best, group
		if 2*len(group) > n && len(others) > 0 {
			d.Losers = others
		}
	case n < quorum:
		d.Verdict = job.Waiting
	case n < maxReplicas:
		d.Verdict = job.NeedReplica
	default:
		d.Verdict = job.GiveUp
	}
	return d
}

// DecideImages compares every pair of decoded results under p and applies
// Decide. A constant image (see Sanity) is never accepted alone: with a
// quorum of 1 it still needs an identical second result. The comparisons
// are returned by pair (i < j) for logging and calibration. The error wraps
// ErrWrongSize when the images differ in size.
func DecideImages(p Profile, imgs []image.Image, quorum, maxReplicas int) (job.Decision, map[[2]int]Comparison, error) {
	cmp := make(map[[2]int]Comparison)
	for i := range imgs {
		for j := i + 1; j < len(imgs); j++ {
			c, err := Compare(p, imgs[i], imgs[j])
			if err != nil {
				return job.Decision{}, nil, fmt.Errorf("replicas %d and %d: %w", i, j, err)
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
	if d.Verdict == job.Accept && constant[d.Canonical] && len(d.Agreeing) < 2 {
		d = Decide(len(imgs), agree, 2, maxReplicas)
	}
	return d, cmp, nil
}
