package publisher

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/scheduler"
	"github.com/renderswarm/renderswarm/work"
)

// zeros is a Rand whose coin always comes up "replicate".
type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

// establish records NewVolunteerVerified accepted results over
// NewVolunteerJobs earlier jobs for each of vs: established volunteers.
// The publisher reads standings once, at its first lease.
func establish(t *testing.T, tb *testbed, vs ...peer.ID) {
	t.Helper()
	var pays []credits.Payment
	for _, v := range vs {
		for k := range scheduler.NewVolunteerJobs {
			h, _ := mh.Sum([]byte(fmt.Sprint("earlier job ", k)), mh.SHA2_256, -1)
			for f := range scheduler.NewVolunteerVerified {
				pays = append(pays, credits.Payment{Volunteer: v, Task: job.Task{Job: cid.NewCidV1(job.JSONCodec, h), Frame: f}, Result: simResult, CU: 1})
			}
		}
	}
	if _, err := tb.p.cfg.Ledger.IssueAll(tb.clock.Now(), tb.p.cfg.Key, pays); err != nil {
		t.Fatal(err)
	}
}

// renderBand renders a granted band honestly: the task rendered whole,
// cut to the band, and committed to.
func (v *volunteer) renderBand(g *work.Grant) []byte {
	t := v.tb.t
	t.Helper()
	img := v.renderImage(g)
	band := image.NewNRGBA(image.Rectangle{Max: g.Crop.Size()})
	for y := range band.Rect.Dy() {
		for x := range band.Rect.Dx() {
			band.Set(x, y, img.At(g.Crop.Min.X+x, g.Crop.Min.Y+y))
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, band); err != nil {
		t.Fatal(err)
	}
	if _, err := v.tb.p.Commit(t.Context(), v.id, g.Ref, job.Commit(g.Salt, credits.Digest(band))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// At a job's end the second render of an established volunteer's frame
// is split into bands for four others. A result wrong in two bands is
// refuted on the publisher's own renders of those two, and the honest
// bands that disagreed with it are not: the band peers are paid their
// band's share, the cheater nothing, and the frame a new volunteer
// rendered whole is accepted against the bands.
func TestBandsCheckAWholeResult(t *testing.T) {
	tb := newTestbed(t, nil)
	tb.p.cfg.Tune = func(c *scheduler.Config) { c.Rand, c.ReplicaGap = zeros{}, -1 }
	cheat, again := tb.volunteer(), tb.volunteer()
	bandPeers := []*volunteer{tb.volunteer(), tb.volunteer(), tb.volunteer(), tb.volunteer()}
	establish(t, tb, cheat.id, again.id) // before the first lease
	for _, v := range bandPeers {
		establish(t, tb, v.id)
	}
	tb.run()
	m := tb.publish("1", 1)
	id, _ := m.ID()
	wait(t, tb.job(id).priced) // its render time known: the drain is

	g := cheat.mustLease(m)
	for _, v := range bandPeers { // idle, they would take bands at once
		if a := v.lease(m); a.Grant != nil {
			t.Fatalf("a second lease of a one-frame job before any result: %v", a.Grant.Task)
		}
	}
	wrong, _ := cheat.renderWith(g, func(img *image.NRGBA) {
		for x := range img.Rect.Dx() { // the first and the last row: two bands
			img.Set(x, 0, color.NRGBA{255, 0, 255, 255})
			img.Set(x, img.Rect.Dy()-1, color.NRGBA{255, 0, 255, 255})
		}
	})
	crops := map[image.Rectangle]peer.ID{}
	var bandGrants []*work.Grant
	for _, v := range bandPeers {
		b := v.mustLease(m)
		if b.Crop.Empty() || b.Crop.Dx() != m.Width || crops[b.Crop] != "" {
			t.Fatalf("lease crop %v, want a band of the %dx%d frame not leased before (have %v)", b.Crop, m.Width, m.Height, crops)
		}
		crops[b.Crop] = v.id
		bandGrants = append(bandGrants, b)
	}
	if a := tb.volunteer().lease(m); a.Grant != nil {
		t.Fatalf("a fifth band went out: %v", a.Grant.Crop)
	}
	pngs := make([][]byte, len(bandPeers))
	for i, v := range bandPeers {
		pngs[i] = v.renderBand(bandGrants[i])
	}
	cheat.deliver(g, wrong)
	for i, v := range bandPeers {
		v.deliver(bandGrants[i], pngs[i])
	}
	wait(t, func() bool { return tb.log.Count("taskDecided") > 0 })
	if n := tb.log.Count("checkArbitrated", "refuted=1"); n != 1 {
		t.Fatalf("arbitration refuted other than the one wrong result: %d of %d", n, tb.log.Count("checkArbitrated"))
	}
	g2 := again.mustLease(m)
	if !g2.Crop.Empty() {
		t.Fatalf("after the refutation the lease is of crop %v, want the whole frame", g2.Crop)
	}
	renderAll(again, g2)
	if st := tb.waitDone(id); st.Counts.Verified != 1 {
		t.Fatalf("job ended with %+v", st.Counts)
	}
	var whole int64
	wait(t, func() bool {
		r, ok := receiptFor(t, tb, again, id)
		whole = r.CU
		return ok
	})
	for i, v := range bandPeers {
		r, ok := receiptFor(t, tb, v, id)
		if !ok {
			t.Fatalf("band peer %d has no receipt for the job", i)
		}
		c := bandGrants[i].Crop
		share := whole * int64(c.Dx()*c.Dy()) / int64(m.Width*m.Height)
		if r.CU < share-1 || r.CU > share+1 {
			t.Errorf("band %v paid %d mCU, want its share %d of %d", c, r.CU, share, whole)
		}
	}
	if r, ok := receiptFor(t, tb, cheat, id); ok {
		t.Errorf("the refuted volunteer was paid: %+v", r)
	}
}

// receiptFor returns v's receipt for a task of job id, if it has one.
func receiptFor(t *testing.T, tb *testbed, v *volunteer, id cid.Cid) (credits.Receipt, bool) {
	t.Helper()
	rs, err := tb.p.Receipts(t.Context(), v.id)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rs {
		r, err := s.Verify()
		if err != nil {
			t.Fatal(err)
		}
		if r.Task.Job == id {
			return r, true
		}
	}
	return credits.Receipt{}, false
}

// wait polls cond every 10 ms for at most 30 s.
func wait(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
