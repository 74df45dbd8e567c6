package credits

import (
	"math"
	"slices"
)

// Compute-unit bounds.
const (
	// MinSpeed and MaxSpeed clamp a machine's speed factor: a benchmark
	// cannot make one machine worth more than 64 reference machines, nor
	// less than 1/64 of one.
	MinSpeed = 1.0 / 64
	MaxSpeed = 64.0
)

// Speed returns a machine's speed factor for one renderer family from a
// benchmark render: how many reference machines it is worth, the reference
// machine's time for the benchmark divided by this machine's, clamped to
// [MinSpeed, MaxSpeed]. A reference time that is not a positive finite
// number gives 1 (count the machine as the reference); a measured time of 0
// or less (too fast to measure) gives MaxSpeed.
func Speed(referenceSeconds, measuredSeconds float64) float64 {
	if !(referenceSeconds > 0) || math.IsInf(referenceSeconds, 0) || math.IsNaN(measuredSeconds) {
		return 1
	}
	if measuredSeconds <= 0 {
		return MaxSpeed
	}
	return min(max(referenceSeconds/measuredSeconds, MinSpeed), MaxSpeed)
}

// Units converts a render's wall time on a machine of the given speed factor
// into milli-CU (1 CU = one second on the reference machine), rounded to
// the nearest milli-CU and clamped to [0, MaxMilliCU]. Speed is clamped as
// in Speed; a speed that is not a number counts as 1, and a time that is not
// a number or not positive is worth 0.
func Units(renderSeconds, speed float64) int64 {
	if math.IsNaN(speed) {
		speed = 1
	}
	speed = min(max(speed, MinSpeed), MaxSpeed)
	if !(renderSeconds > 0) {
		return 0
	}
	mcu := math.Round(renderSeconds * speed * 1000)
	if mcu >= MaxMilliCU {
		return MaxMilliCU
	}
	return int64(mcu)
}

// ClipToMedian clips every claim to the lower median of all claims (the
// middle one of an odd count, the lesser middle one of an even count), so
// that a volunteer who overstates its time is paid the median. Negative
// claims count as 0. With one claim the median is the claim itself: the
// caller must bound it otherwise (JobCosts caps it); with two, both are paid
// the smaller. The result is a new slice in the claims' order.
func ClipToMedian(claims []int64) []int64 {
	out := make([]int64, len(claims))
	if len(claims) == 0 {
		return out
	}
	sorted := make([]int64, len(claims))
	for i, c := range claims {
		sorted[i] = max(c, 0)
	}
	slices.Sort(sorted)
	m := lowerMedian(sorted)
	for i, c := range claims {
		out[i] = min(max(c, 0), m)
	}
	return out
}

func lowerMedian(sorted []int64) int64 { return sorted[(len(sorted)-1)/2] }

// JobCosts is what a publisher keeps per job to price accepted results: the
// claims seen so far (capped), whose lower median bounds every payment. Its
// zero value has no cap. It is not safe for concurrent use.
//
// Claims arrive one by one, so early payments see few claims: the first
// claim is paid in full up to Cap, the second at most the lesser of the two,
// and from the third on the median of all claims so far is robust against a
// minority of liars. Cap should come from the manifest's time limit
// (Limits.MaxSecondsPerFrame at MaxSpeed, or tighter) so the first claim's
// reward is bounded too.
type JobCosts struct {
	Cap    int64   // maximum milli-CU per task; 0 means no cap
	sorted []int64 // capped claims, ascending
}

// Pay records a claim of claim milli-CU and returns what to pay for it:
// the claim, capped, and clipped to the lower median of all capped claims
// recorded so far, this one included.
func (j *JobCosts) Pay(claim int64) int64 {
	claim = min(max(claim, 0), MaxMilliCU)
	if j.Cap > 0 {
		claim = min(claim, j.Cap)
	}
	i, _ := slices.BinarySearch(j.sorted, claim)
	j.sorted = slices.Insert(j.sorted, i, claim)
	return min(claim, lowerMedian(j.sorted))
}

// Median returns the lower median of the capped claims so far, 0 with none.
func (j *JobCosts) Median() int64 {
	if len(j.sorted) == 0 {
		return 0
	}
	return lowerMedian(j.sorted)
}

// Claims returns how many claims were recorded.
func (j *JobCosts) Claims() int { return len(j.sorted) }
