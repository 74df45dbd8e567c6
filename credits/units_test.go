package credits

import (
	"math"
	"slices"
	"testing"
)

func TestSpeed(t *testing.T) {
	for _, tc := range []struct {
		name          string
		ref, measured float64
		want          float64
	}{
		{"reference machine", 10, 10, 1},
		{"twice as fast", 10, 5, 2},
		{"four times slower", 10, 40, 0.25},
		{"absurdly fast is clamped", 10, 0.001, MaxSpeed},
		{"absurdly slow is clamped", 1, 1000, MinSpeed},
		{"too fast to measure", 10, 0, MaxSpeed},
		{"no reference", 0, 5, 1},
		{"negative reference", -3, 5, 1},
		{"NaN measured", 10, math.NaN(), 1},
		{"infinite reference", math.Inf(1), 5, 1},
		{"infinite measured", 10, math.Inf(1), MinSpeed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Speed(tc.ref, tc.measured); got != tc.want {
				t.Fatalf("Speed(%v, %v) = %v, want %v", tc.ref, tc.measured, got, tc.want)
			}
		})
	}
}

func TestUnits(t *testing.T) {
	for _, tc := range []struct {
		name           string
		seconds, speed float64
		want           int64
	}{
		{"one reference second", 1, 1, 1000},
		{"fast machine earns per reference second", 30, 2, 60_000},
		{"rounds to the nearest milli-CU", 0.0004, 1, 0},
		{"rounds half away from zero", 0.0625, 1, 63},
		{"speed clamped", 1, 1000, 64_000},
		{"NaN speed counts as reference", 2, math.NaN(), 2000},
		{"negative time", -5, 1, 0},
		{"NaN time", math.NaN(), 1, 0},
		{"huge time saturates", 1e300, 1, MaxMilliCU},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Units(tc.seconds, tc.speed); got != tc.want {
				t.Fatalf("Units(%v, %v) = %d, want %d", tc.seconds, tc.speed, got, tc.want)
			}
		})
	}
}

// A frame is worth the same on any machine: the slow machine takes longer
// at a lower speed factor.
func TestUnitsSameFrameAnyMachine(t *testing.T) {
	const ref = 12.0 // reference seconds for the benchmark and the frame alike
	fast := Units(ref/3, Speed(ref, ref/3))
	slow := Units(ref*2, Speed(ref, ref*2))
	if fast != slow || fast != 12_000 {
		t.Fatalf("fast machine earns %d, slow one %d; want 12000 both", fast, slow)
	}
}

func TestClipToMedian(t *testing.T) {
	for _, tc := range []struct {
		name   string
		claims []int64
		want   []int64
	}{
		{"none", nil, []int64{}},
		{"one claim stands", []int64{500}, []int64{500}},
		{"two: both paid the smaller", []int64{900, 300}, []int64{300, 300}},
		{"liar clipped", []int64{100, 110, 5000}, []int64{100, 110, 110}},
		{"even count uses the lower middle", []int64{40, 10, 30, 20}, []int64{20, 10, 20, 20}},
		{"negative claims count as zero", []int64{-7, 100, 100}, []int64{0, 100, 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.claims)
			if got := ClipToMedian(tc.claims); !slices.Equal(got, tc.want) {
				t.Fatalf("ClipToMedian(%v) = %v, want %v", tc.claims, got, tc.want)
			}
			if !slices.Equal(in, tc.claims) {
				t.Fatal("ClipToMedian changed its argument")
			}
		})
	}
}

// Lying about time pays nothing once honest claims dominate, and the first
// claims are bounded by the cap.
func TestJobCosts(t *testing.T) {
	j := JobCosts{Cap: 10_000}
	var paid []int64
	for _, claim := range []int64{50_000, 1000, 1100, 9000, 1050, 1000, 20_000} {
		paid = append(paid, j.Pay(claim))
	}
	want := []int64{10_000, 1000, 1100, 1100, 1050, 1000, 1100}
	if !slices.Equal(paid, want) {
		t.Fatalf("paid %v, want %v", paid, want)
	}
	if j.Claims() != 7 || j.Median() != 1100 {
		t.Fatalf("Claims %d, Median %d; want 7 and 1100", j.Claims(), j.Median())
	}
	var none JobCosts
	if none.Median() != 0 || none.Pay(-3) != 0 {
		t.Fatal("a negative claim was paid")
	}
	if got := none.Pay(MaxMilliCU); got != 0 {
		t.Fatalf("second claim paid %d, want the lesser of the two (0)", got)
	}
}
