package clock

import (
	"testing"
	"time"
)

func TestFakeFiresInDeadlineOrder(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	f := NewFake(start)
	tick := f.NewTicker(3 * time.Second)
	timer := f.NewTimer(5 * time.Second)
	after := f.After(time.Hour)
	if f.Waiters() != 3 {
		t.Fatalf("waiters = %d, want 3", f.Waiters())
	}
	f.Advance(2 * time.Second)
	select {
	case <-tick.C():
		t.Fatal("ticker fired before its period")
	case <-timer.C():
		t.Fatal("timer fired early")
	default:
	}
	f.Advance(2 * time.Second) // now +4s: one tick at +3s
	if got := <-tick.C(); !got.Equal(start.Add(3 * time.Second)) {
		t.Fatalf("tick at %v, want +3s", got.Sub(start))
	}
	f.Advance(3 * time.Second) // +7s: the timer at +5s, a tick at +6s
	if got := <-timer.C(); !got.Equal(start.Add(5 * time.Second)) {
		t.Fatalf("timer at %v, want +5s", got.Sub(start))
	}
	if got := <-tick.C(); !got.Equal(start.Add(6 * time.Second)) {
		t.Fatalf("tick at %v, want +6s", got.Sub(start))
	}
	if timer.Stop() {
		t.Fatal("a fired timer reported pending")
	}
	// A receiver that misses ticks gets one, as from a real ticker.
	f.Advance(30 * time.Second)
	<-tick.C()
	select {
	case <-tick.C():
		t.Fatal("a missed tick was queued")
	default:
	}
	tick.Stop()
	select {
	case <-after:
		t.Fatal("an hour's After fired after 37s")
	default:
	}
	if f.Waiters() != 1 {
		t.Fatalf("waiters = %d, want the hour's After only", f.Waiters())
	}
	if !f.Now().Equal(start.Add(37 * time.Second)) {
		t.Fatalf("now = +%v", f.Now().Sub(start))
	}
}

func TestFakeTimerReset(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	tm := f.NewTimer(time.Second)
	if !tm.Stop() {
		t.Fatal("a pending timer reported not pending")
	}
	f.Advance(time.Minute)
	tm.Reset(10 * time.Second)
	f.Advance(9 * time.Second)
	select {
	case <-tm.C():
		t.Fatal("reset timer fired early")
	default:
	}
	f.Advance(time.Second)
	<-tm.C()
}

func TestBlockUntil(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	if f.BlockUntil(1, 10*time.Millisecond) {
		t.Fatal("BlockUntil(1) with no waiters returned true")
	}
	go func() { <-f.After(time.Second) }()
	if !f.BlockUntil(1, 10*time.Second) {
		t.Fatal("BlockUntil did not see the goroutine's timer")
	}
}
