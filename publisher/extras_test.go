package publisher

import (
	"bytes"
	"errors"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/roletest"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/render/builtin"
	"github.com/renderswarm/renderswarm/scheduler"
	"github.com/renderswarm/renderswarm/work"
)

// commitBundle renders a grant honestly, commits to its PNG and the given
// EXR together and returns the PNG.
func (v *volunteer) commitBundle(g *work.Grant, exr []byte) []byte {
	t := v.tb.t
	t.Helper()
	m := g.Manifest
	if _, err := v.store.Get(t.Context(), m.Scene.Asset, nil); err != nil {
		t.Fatal(err)
	}
	sceneDir, _ := v.store.Path(m.Scene.Asset)
	task := render.TaskFor(m, g.Task, sceneDir, t.TempDir(), 1)
	task.Extras = nil // the built-in renderer makes no EXR: the test brings its own
	res, err := builtin.New().Render(t.Context(), task, nil)
	if err != nil {
		t.Fatal(err)
	}
	png, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := credits.Decode(png, image.Pt(m.Width, m.Height))
	if err != nil {
		t.Fatal(err)
	}
	d := job.ResultDigest(credits.Digest(img), map[string][]byte{"exr": exr})
	if _, err := v.tb.p.Commit(t.Context(), v.id, g.Ref, job.Commit(g.Salt, d)); err != nil {
		t.Fatal(err)
	}
	return png
}

func bundle(t *testing.T, png, exr []byte) []byte {
	var buf bytes.Buffer
	if err := work.WriteBundle(&buf, png, map[string][]byte{"exr": exr}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (v *volunteer) deliverErr(g *work.Grant, body []byte) error {
	t := v.tb.t
	if ok, err := v.tb.p.Await(t.Context(), v.id, g.Ref); err != nil || !ok {
		t.Fatalf("await: %v, %v; want deliver now", ok, err)
	}
	return v.tb.p.Deliver(t.Context(), v.id, work.Delivery{Ref: g.Ref, CU: 1000}, &roletest.Body{Data: body})
}

// A job with an extra OpenEXR output: a replica that changed its EXR after
// committing (its PNG untouched, so the pixels would agree) fails its
// commitment and is replaced; a PNG without the EXR is refused; the
// accepted result's EXR is fetched beside its frame, byte for byte.
func TestExtraOutputIsBoundByTheCommitment(t *testing.T) {
	tb := newTestbed(t, nil)
	tb.run()
	id, err := tb.p.Publish(t.Context(), Request{Scene: tb.scene, Frames: "1", Replicas: 2, Width: 32, Height: 18, Samples: 2, Output: job.OutputPNGEXR})
	if err != nil {
		t.Fatal(err)
	}
	st, err := tb.p.Status(id)
	if err != nil {
		t.Fatal(err)
	}
	m := st.Manifest
	exr := append([]byte("\x76\x2f\x31\x01"), bytes.Repeat([]byte("half"), 64)...)
	tampered := bytes.Clone(exr)
	tampered[len(tampered)-1] ^= 0xff

	a, b, c := tb.volunteer(), tb.volunteer(), tb.volunteer()
	ga, gb := a.mustLease(m), b.mustLease(m)
	pa, pb := a.commitBundle(ga, exr), b.commitBundle(gb, exr)
	if err := b.deliverErr(gb, pb); err == nil {
		t.Fatal("a bare PNG was accepted for a job with an EXR output")
	}
	if err := b.deliverErr(gb, bundle(t, pb, tampered)); !errors.Is(err, scheduler.ErrCommitmentMismatch) {
		t.Fatalf("a replica whose EXR changed after its commitment: %v, want %v", err, scheduler.ErrCommitmentMismatch)
	}
	if err := a.deliverErr(ga, bundle(t, pa, exr)); err != nil {
		t.Fatal(err)
	}
	gc := c.mustLease(m)
	if err := c.deliverErr(gc, bundle(t, c.commitBundle(gc, exr), exr)); err != nil {
		t.Fatal(err)
	}

	if st := tb.waitDone(id); st.Counts.Verified != 1 {
		t.Fatalf("job ended %s with %+v", st.State, st.Counts)
	}
	out := t.TempDir()
	got, err := tb.p.Fetch(id, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Written) != 2 {
		t.Errorf("fetch wrote %v, want the frame and its EXR", got.Written)
	}
	if b, err := os.ReadFile(filepath.Join(out, "frame_0001.exr")); err != nil || !bytes.Equal(b, exr) {
		t.Errorf("fetched EXR: %v, equal to the committed one: %v", err, bytes.Equal(b, exr))
	}
}

// A replica that changed its EXR before committing (its PNG honest) is
// accepted on its PNG, but the job's status says that frame's EXR differs
// between the replicas and names the peer.
func TestExtraOutputChangedBeforeCommitIsReported(t *testing.T) {
	tb := newTestbed(t, nil)
	tb.run()
	id, err := tb.p.Publish(t.Context(), Request{Scene: tb.scene, Frames: "1", Replicas: 2, Width: 32, Height: 18, Samples: 2, Output: job.OutputPNGEXR})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := tb.p.Status(id)
	exr := append([]byte("\x76\x2f\x31\x01"), bytes.Repeat([]byte("half"), 64)...)
	tampered := bytes.Clone(exr)
	tampered[len(tampered)-1] ^= 0xff
	a, b := tb.volunteer(), tb.volunteer()
	ga, gb := a.mustLease(st.Manifest), b.mustLease(st.Manifest)
	pa, pb := a.commitBundle(ga, exr), b.commitBundle(gb, tampered)
	if err := a.deliverErr(ga, bundle(t, pa, exr)); err != nil {
		t.Fatal(err)
	}
	if err := b.deliverErr(gb, bundle(t, pb, tampered)); err != nil {
		t.Fatal(err)
	}
	st = tb.waitDone(id)
	found := false
	for _, e := range st.Errors {
		found = found || (e.Task.Frame == 1 && strings.Contains(e.Reason, "exr differs") && (e.Peer == b.id || e.Peer == a.id))
	}
	if !found {
		t.Fatalf("the job ended %s without saying the replicas' EXRs differ: %+v", st.State, st.Errors)
	}
}
