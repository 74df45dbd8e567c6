package volunteer

import (
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/internal/clock"
	"github.com/renderswarm/renderswarm/internal/roletest"
	"github.com/renderswarm/renderswarm/p2p"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/render/builtin"
)

// The note that a publisher owes receipts is written at its first
// delivery and renewed at most once a minute while deliveries go on: it
// keeps the publisher asked for an hour, after a restart too.
func TestOwedNoteRenewedOnceAMinute(t *testing.T) {
	key, self := roletest.Identity(t)
	ledger, _ := roletest.Ledger(t, self)
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	v, err := New(Config{
		Key: key, Publishers: newPublisher(), Gossip: gossip{in: make(chan p2p.Message)}, Assets: roletest.NewSwarm(t).Store(), Ledger: ledger,
		Backends: map[string]render.Backend{builtin.Name: builtin.New()},
		Versions: map[string]string{builtin.Name: "1"},
		WorkDir:  t.TempDir(), Clock: clk, Logger: (&roletest.Log{}).Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, pub := roletest.Identity(t)
	t0 := clk.Now()
	owed := func(since time.Time) int {
		t.Helper()
		ps, err := ledger.Owed(since)
		if err != nil {
			t.Fatal(err)
		}
		return len(ps)
	}
	if err := v.owe(pub); err != nil {
		t.Fatal(err)
	}
	if n := owed(t0.Add(-owedFor)); n != 1 {
		t.Fatalf("%d publishers owe receipts after a delivery; want 1", n)
	}
	clk.Advance(oweEvery - time.Second)
	if err := v.owe(pub); err != nil {
		t.Fatal(err)
	}
	// Within the minute nothing was written: the note is still the first.
	if n := owed(t0.Add(time.Second)); n != 0 {
		t.Fatalf("%d publishers noted after the first delivery; want the note not rewritten within a minute", n)
	}
	clk.Advance(2 * time.Second)
	if err := v.owe(pub); err != nil {
		t.Fatal(err)
	}
	if n := owed(t0.Add(oweEvery)); n != 1 {
		t.Fatalf("a minute on, %d publishers noted; want the note renewed", n)
	}
}
