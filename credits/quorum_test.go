package credits

import (
	"image"
	"image/color"
	"slices"
	"testing"

	"github.com/renderswarm/renderswarm/job"
)

// groups builds an agree function: results with the same letter match.
func groups(s string) (int, func(i, j int) bool) {
	return len(s), func(i, j int) bool { return s[i] == s[j] }
}

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name        string
		results     string
		quorum, max int
		outcome     job.Verdict
		canonical   int
		losers      []int
	}{
		{"nothing yet", "", 2, 3, job.Waiting, -1, nil},
		{"single, adaptive", "a", 1, 3, job.Accept, 0, nil},
		{"one of two", "a", 2, 3, job.Waiting, -1, nil},
		{"two agree", "aa", 2, 3, job.Accept, 0, nil},
		{"two disagree: third replica, nobody punished", "ab", 2, 3, job.NeedReplica, -1, nil},
		{"2-of-3, first loses", "abb", 2, 3, job.Accept, 1, []int{0}},
		{"2-of-3, second loses", "aba", 2, 3, job.Accept, 0, []int{1}},
		{"three all differ", "abc", 2, 3, job.GiveUp, -1, nil},
		{"three all differ, budget left", "abc", 2, 5, job.NeedReplica, -1, nil},
		{"two pairs tie", "aabb", 2, 5, job.NeedReplica, -1, nil},
		{"pairs tie, budget spent", "abab", 2, 4, job.GiveUp, -1, nil},
		{"3-of-5", "ababa", 3, 5, job.Accept, 0, []int{1, 3}},
		{"quorum 3, two agree", "aab", 3, 5, job.NeedReplica, -1, nil},
		{"quorum 3 met without majority", "aaabbc", 3, 6, job.Accept, 0, nil},
		{"all agree", "aaa", 2, 3, job.Accept, 0, nil},
		{"quorum above max", "aa", 3, 2, job.Waiting, -1, nil},
		{"accepted without strict majority", "aabc", 2, 5, job.Accept, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, agree := groups(tc.results)
			d := Decide(n, agree, tc.quorum, tc.max)
			if d.Verdict != tc.outcome || d.Canonical != tc.canonical || !slices.Equal(d.Losers, tc.losers) {
				t.Fatalf("Decide(%q) = %+v, want %v canonical %d losers %v", tc.results, d, tc.outcome, tc.canonical, tc.losers)
			}
			if d.Verdict == job.Accept {
				for _, i := range d.Agreeing {
					if tc.results[i] != tc.results[d.Canonical] {
						t.Fatalf("Agreeing %v includes a disagreeing result", d.Agreeing)
					}
				}
			}
		})
	}
}

// Tolerant matching is not transitive: the result that matches most others
// becomes canonical.
func TestDecideNonTransitive(t *testing.T) {
	// 0~1 and 1~2, but 0 and 2 differ.
	agree := func(i, j int) bool { return j-i == 1 }
	d := Decide(3, agree, 2, 3)
	if d.Verdict != job.Accept || d.Canonical != 1 || !slices.Equal(d.Agreeing, []int{0, 1, 2}) || d.Losers != nil {
		t.Fatalf("Decide = %+v", d)
	}
}

func TestDecideImages(t *testing.T) {
	p, _ := ProfileFor(job.ProfileCyclesCPU)
	ref := render(5, testW, testH)
	honest := fewPixelsOff(ref, 10, 4)
	cheat := addAll(ref, 2)

	d, cmp, err := DecideImages(p, []image.Image{ref, cheat, honest}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if d.Verdict != job.Accept || d.Canonical != 0 || !slices.Equal(d.Losers, []int{1}) {
		t.Fatalf("honest, cheat, honest: %+v", d)
	}
	if len(cmp) != 3 || cmp[[2]int{0, 1}].Match || !cmp[[2]int{0, 2}].Match {
		t.Fatalf("comparisons: %+v", cmp)
	}

	d, _, _ = DecideImages(p, []image.Image{ref, cheat}, 2, 3)
	if d.Verdict != job.NeedReplica || d.Losers != nil {
		t.Fatalf("honest vs cheat alone: %+v", d)
	}

	// A blank frame is never accepted on one result, and blank frames agree
	// only exactly.
	black := constant(testW, testH, color.NRGBA{0, 0, 0, 255})
	nearBlack := constant(testW, testH, color.NRGBA{1, 1, 1, 255})
	d, _, _ = DecideImages(p, []image.Image{black}, 1, 3)
	if d.Verdict != job.Waiting {
		t.Fatalf("one blank frame with quorum 1: %+v", d)
	}
	d, _, _ = DecideImages(p, []image.Image{black, nearBlack}, 1, 3)
	if d.Verdict != job.NeedReplica {
		t.Fatalf("two different blank frames with quorum 1: %+v", d)
	}
	d, _, _ = DecideImages(p, []image.Image{black, black}, 1, 3)
	if d.Verdict != job.Accept || len(d.Agreeing) != 2 {
		t.Fatalf("two identical blank frames: %+v", d)
	}

	if _, _, err := DecideImages(p, []image.Image{ref, render(5, 10, 10)}, 2, 3); err == nil {
		t.Fatal("images of different sizes accepted")
	}
}
