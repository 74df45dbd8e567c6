package publisher

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/credits"
)

// An accepted result is shared after its decision is persisted, off the
// verifier's path: until then Fetch reads it where it was delivered. A
// publisher that stops before sharing it shares it when it starts again,
// and the result's lease directory goes once it is shared.
func TestAcceptedResultSharedAfterDecisionAndAfterRestart(t *testing.T) {
	tb := newTestbed(t, nil)
	m := tb.publish("1", 2)
	id, _ := m.ID()
	a, b := tb.volunteer(), tb.volunteer()
	ga, gb := a.mustLease(m), b.mustLease(m)
	renderAll(a, ga, b, gb)
	j := tb.job(id)
	if !tb.p.calibrate(t.Context(), j) {
		t.Fatal("the publisher could not price the job")
	}
	prof, err := credits.ProfileFor(m.Profile)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range j.coord.Pending() {
		tb.p.verifyTask(t.Context(), j, tr, prof)
	}
	res, _, ok := j.coord.Accepted(ga.Task)
	if !ok {
		t.Fatal("the task was not accepted")
	}
	if _, err := tb.p.cfg.Assets.Path(res.CID); err == nil {
		t.Fatal("the result was shared before the sharer ran")
	}
	out := t.TempDir()
	got, err := tb.p.Fetch(id, out)
	if err != nil || len(got.Missing) != 0 || len(got.Written) != 1 {
		t.Fatalf("fetch before sharing: %+v, %v; want frame 1 written", got, err)
	}

	// The node stops here; it starts again on the same database and
	// directories.
	p2, err := New(t.Context(), tb.p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p2.Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	results := filepath.Join(tb.p.cfg.ResultsDir, id.String())
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := p2.cfg.Assets.Path(res.CID)
		left, _ := os.ReadDir(results)
		if err == nil && len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a restart: result shared: %v; %d lease directories left", err, len(left))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got, err := p2.Fetch(id, t.TempDir()); err != nil || len(got.Written) != 1 {
		t.Fatalf("fetch after sharing: %+v, %v", got, err)
	}
}
