package phase

import (
	"testing"
	"time"
)

func TestPercentilesOfRecentDurations(t *testing.T) {
	var r Recorder
	for i := 1; i <= 100; i++ {
		r.Observe("deliver", time.Duration(i)*time.Millisecond)
	}
	s := r.Snapshot()["deliver"]
	if s.Count != 100 || s.P50 != 50*time.Millisecond || s.P99 != 99*time.Millisecond || s.Max != 100*time.Millisecond {
		t.Errorf("summary %+v; want count 100, p50 50ms, p99 99ms, max 100ms", s)
	}
	if s.Total != 5050*time.Millisecond {
		t.Errorf("total %v; want 5.05s", s.Total)
	}
	// Old durations leave the window; the count and total keep them.
	for range keep {
		r.Observe("deliver", time.Second)
	}
	if s := r.Snapshot()["deliver"]; s.P50 != time.Second || s.Count != 100+keep {
		t.Errorf("after %d more: %+v; want p50 1s", keep, s)
	}
	r.Reset()
	if len(r.Snapshot()) != 0 {
		t.Error("phases left after Reset")
	}
}
