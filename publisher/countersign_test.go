package publisher

import (
	"errors"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/roletest"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/scheduler"
)

// Receipts come back countersigned, and the wire edge no longer verifies
// the publisher's own signature on them (credits.OpenReturned): the
// ledger compares it with the one it issued. A volunteer that returns its
// receipt under a publisher signature it forged, or a receipt for more CU
// that this publisher never issued, is refused and nothing is recorded;
// the genuine receipt is recorded.
func TestCountersignRefusesForgedPublisherSignatures(t *testing.T) {
	tb := newTestbed(t, nil)
	tb.run()
	m := tb.publish("1", 2)
	vs := []*volunteer{tb.volunteer(), tb.volunteer()}
	g0 := vs[0].mustLease(m)
	tb.clock.Advance(scheduler.DefaultReplicaGap)
	g1 := vs[1].mustLease(m)
	renderAll(vs[0], g0, vs[1], g1)
	deadline := time.Now().Add(30 * time.Second)
	for !creditedAll(t, tb, vs) {
		if time.Now().After(deadline) {
			t.Fatal("no receipts in 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	v := vs[0]
	pending, err := tb.p.Receipts(t.Context(), v.id)
	if err != nil || len(pending) != 1 {
		t.Fatalf("pending receipts: %d, %v; want 1", len(pending), err)
	}
	genuine := pending[0]
	r, err := credits.UnmarshalReceipt(genuine.Receipt)
	if err != nil {
		t.Fatal(err)
	}
	impostor, _ := roletest.Identity(t)
	// signed returns rec under a publisher signature made with key, and
	// countersigned by v, as it comes off the wire.
	signed := func(rec credits.Receipt) credits.SignedReceipt {
		b, err := rec.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		sig, err := impostor.Sign([]byte(credits.ReceiptSigningDomain + string(b)))
		if err != nil {
			t.Fatal(err)
		}
		counter, err := v.key.Sign([]byte(credits.CountersignDomain + string(b) + string(sig)))
		if err != nil {
			t.Fatal(err)
		}
		wire, err := credits.SignedReceipt{Receipt: b, Signature: sig, Countersig: counter}.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		sr, err := credits.OpenReturned(wire)
		if err != nil {
			t.Fatal(err)
		}
		return sr
	}
	richer := r
	richer.Seq, richer.CU, richer.Total = r.Seq+1, r.CU*100, r.Total+r.CU*100
	for name, sr := range map[string]credits.SignedReceipt{"forged signature": signed(r), "never issued": signed(richer)} {
		if err := tb.p.Countersign(t.Context(), v.id, sr); !errors.Is(err, job.ErrBadSignature) {
			t.Errorf("%s: Countersign = %v, want ErrBadSignature", name, err)
		}
	}
	if still, err := tb.p.Receipts(t.Context(), v.id); err != nil || len(still) != 1 {
		t.Fatalf("after the forgeries, %d receipts wait for a countersignature (%v); want the genuine one", len(still), err)
	}
	entries, err := tb.p.cfg.Ledger.Receipts(0)
	if err != nil {
		t.Fatal(err)
	}
	var mine []credits.Entry
	for _, e := range entries {
		if e.Counterpart == v.id {
			mine = append(mine, e)
		}
	}
	if len(mine) != 1 || mine[0].CU != r.CU {
		t.Errorf("publisher's ledger holds %+v for the volunteer; want only the genuine receipt of %d CU", mine, r.CU)
	}
	good, err := genuine.Countersign(v.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.p.Countersign(t.Context(), v.id, good); err != nil {
		t.Fatalf("genuine receipt refused: %v", err)
	}
	if still, err := tb.p.Receipts(t.Context(), v.id); err != nil || len(still) != 0 {
		t.Fatalf("after the genuine countersignature, %d receipts wait (%v); want none", len(still), err)
	}
}
