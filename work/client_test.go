package work

import (
	"bytes"
	"context"
	"errors"
	"image"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/p2p"
)

// memBody is a body held in memory; opened says whether it was asked for.
type memBody struct {
	data   []byte
	opened bool
}

func (b *memBody) Size() int64 { return int64(len(b.data)) }
func (b *memBody) Open() (io.Reader, error) {
	b.opened = true
	return bytes.NewReader(b.data), nil
}

// loopback calls a Server in memory, as p2p would over a stream from a
// peer.
type loopback struct {
	from peer.ID
	s    Server
	last *memBody
}

func (l *loopback) CallBody(ctx context.Context, _ peer.ID, proto protocol.ID, header []byte, body io.Reader, size int64) ([]byte, error) {
	if proto != Protocol {
		return nil, errors.New("wrong protocol")
	}
	data, err := io.ReadAll(io.LimitReader(body, size))
	if err != nil {
		return nil, err
	}
	l.last = &memBody{data: data}
	resp, err := Serve(ctx, l.s, l.from, header, l.last)
	if err != nil {
		return nil, &p2p.RemoteError{Msg: err.Error()}
	}
	return resp, nil
}

// recorder is a Server that records what it was asked and answers from
// its fields.
type recorder struct {
	calls     []string
	grant     *Grant
	retry     time.Duration
	expiry    time.Time
	delivered []byte
	speed     float64 // the last lease request's
	reveal    bool    // what Commit answers
}

func (r *recorder) note(op string, ref Ref) { r.calls = append(r.calls, op+" "+ref.Lease) }

func (r *recorder) Lease(ctx context.Context, _ peer.ID, id cid.Cid, _ map[string]string) (LeaseAnswer, error) {
	r.note("lease", Ref{Job: id})
	r.speed = SpeedOf(ctx)
	return LeaseAnswer{Grant: r.grant, Retry: r.retry}, nil
}
func (r *recorder) Backup(_ context.Context, _ peer.ID, id cid.Cid, _ map[string]string) (LeaseAnswer, error) {
	r.note("backup", Ref{Job: id})
	return LeaseAnswer{Grant: r.grant, Retry: r.retry}, nil
}
func (r *recorder) Renew(_ context.Context, _ peer.ID, ref Ref, _ float64) (time.Time, error) {
	r.note("renew", ref)
	return r.expiry, nil
}
func (r *recorder) Commit(_ context.Context, _ peer.ID, ref Ref, _ job.Commitment) (bool, error) {
	r.note("commit", ref)
	return r.reveal, nil
}
func (r *recorder) Await(_ context.Context, _ peer.ID, ref Ref) (bool, error) {
	r.note("await", ref)
	return true, nil
}
func (r *recorder) Deliver(_ context.Context, _ peer.ID, d Delivery, body Body) error {
	r.note("deliver", d.Ref)
	if body.Size() > 16 {
		return errors.New("result larger than its tile")
	}
	rd, err := body.Open()
	if err != nil {
		return err
	}
	r.delivered, err = io.ReadAll(rd)
	return err
}
func (r *recorder) Fail(_ context.Context, _ peer.ID, ref Ref, _ string) error {
	r.note("fail", ref)
	return errors.New("no such lease")
}
func (r *recorder) Release(_ context.Context, _ peer.ID, ref Ref) error {
	r.note("release", ref)
	return nil
}
func (r *recorder) Receipts(context.Context, peer.ID) ([]credits.SignedReceipt, error) {
	return nil, nil
}
func (r *recorder) Countersign(context.Context, peer.ID, ...credits.SignedReceipt) error { return nil }

// The typed client and server agree on every operation, a result's bytes
// cross only when the publisher accepts the delivery, the client refuses a
// grant that is not what it asked for, and an answered error is a refusal.
func TestClientAndServer(t *testing.T) {
	mb, pub, _ := signedManifest(t)
	m, sm, _ := job.OpenManifest(mb)
	id := sm.ID()
	srv := &recorder{expiry: time.Unix(1_800_000_020, 0)}
	net := &loopback{from: "volunteer", s: srv}
	c := NewClient(net)
	ctx := context.Background()

	srv.retry = 5 * time.Second
	a, err := c.Lease(ctx, pub, id, nil)
	if err != nil || a.Grant != nil || a.Retry != 5*time.Second {
		t.Fatalf("no work: %+v, %v; want retry 5s", a, err)
	}
	srv.grant = &Grant{Ref: Ref{Job: id, Lease: "l1"}, Task: job.Task{Job: id, Frame: 3}, Expires: srv.expiry, Signed: mb}
	c.SetSpeed(1.5)
	a, err = c.Lease(ctx, pub, id, nil)
	if err != nil || a.Grant == nil || a.Grant.Lease != "l1" || a.Grant.Task.Frame != 3 || a.Grant.Manifest.Width != m.Width {
		t.Fatalf("grant: %+v, %v", a.Grant, err)
	}
	if srv.speed != 1.5 {
		t.Fatalf("the publisher heard speed %v, want the client's 1.5", srv.speed)
	}
	// A backup lease, of a check replica: the crop crosses the wire, and
	// one outside the task's tile is refused.
	srv.grant.Crop = image.Rect(1, 2, 5, 4)
	if b, err := c.Backup(ctx, pub, id, nil); err != nil || b.Grant == nil || b.Grant.Crop != srv.grant.Crop {
		t.Fatalf("backup: %+v, %v; want the grant with crop %v", b.Grant, err, srv.grant.Crop)
	}
	srv.grant.Crop = image.Rect(0, 0, m.Width+1, 1)
	if _, err := c.Backup(ctx, pub, id, nil); err == nil || !strings.Contains(err.Error(), "not inside the tile") {
		t.Fatalf("a crop outside the frame: %v", err)
	}
	srv.grant.Crop = image.Rectangle{}
	ref := a.Grant.Ref
	if exp, err := c.Renew(ctx, pub, ref, 0.5); err != nil || !exp.Equal(srv.expiry) {
		t.Fatalf("renew: %v, %v", exp, err)
	}
	if reveal, err := c.Commit(ctx, pub, ref, job.Commitment{1}); err != nil || reveal {
		t.Fatalf("commit: reveal %v, %v; want not yet", reveal, err)
	}
	if reveal, err := c.Await(ctx, pub, ref); err != nil || !reveal {
		t.Fatalf("await: reveal %v, %v; want reveal", reveal, err)
	}
	if err := c.Deliver(ctx, pub, Delivery{Ref: ref, CU: 1}, strings.NewReader("png bytes"), 9); err != nil || string(srv.delivered) != "png bytes" {
		t.Fatalf("deliver: %q, %v", srv.delivered, err)
	}
	if err := c.Deliver(ctx, pub, Delivery{Ref: ref, CU: 1}, strings.NewReader(strings.Repeat("x", 100)), 100); !Refused(err) || net.last.opened {
		t.Fatalf("an oversized result: %v (opened %v); want refused before its body was read", err, net.last.opened)
	}
	if err := c.Release(ctx, pub, ref); err != nil {
		t.Fatal(err)
	}
	if err := c.Fail(ctx, pub, ref, "crashed"); !Refused(err) || !strings.Contains(err.Error(), "no such lease") {
		t.Fatalf("fail answered with an error: %v; want a refusal", err)
	}
	want := "lease ,lease ,backup ,backup ,renew l1,commit l1,await l1,deliver l1,deliver l1,release l1,fail l1"
	if got := strings.Join(srv.calls, ","); got != want {
		t.Fatalf("server saw %s\nwant %s", got, want)
	}
	// A body sent with an operation that has none is refused.
	if _, err := Serve(ctx, srv, "v", mustEncode(Request{Op: OpReceipts}), &memBody{data: []byte("x")}); err == nil {
		t.Fatal("a receipts request with a body was served")
	}

	// Grants that are not what was asked for.
	other, _, _ := signedManifest(t)
	_, otherSM, _ := job.OpenManifest(other)
	for name, tc := range map[string]struct {
		grant Grant
		pub   peer.ID
		want  string
	}{
		"task of another frame": {Grant{Ref: Ref{Job: id, Lease: "l"}, Task: job.Task{Job: id, Frame: 99}, Signed: mb}, pub, "not a task"},
		"another publisher":     {Grant{Ref: Ref{Job: id, Lease: "l"}, Task: job.Task{Job: id, Frame: 1}, Signed: mb}, "12D3KooWKKtbRBqm2RGJ7YhxNLcUsjsQD8r3qbHWFqbxS8KsBvBx", "published by"},
		"another job":           {Grant{Ref: Ref{Job: otherSM.ID(), Lease: "l"}, Task: job.Task{Job: otherSM.ID(), Frame: 1}, Signed: other}, pub, "for job"},
	} {
		t.Run(name, func(t *testing.T) {
			g := tc.grant
			srv.grant = &g
			if _, err := c.Lease(ctx, tc.pub, id, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// A commitment delivered with its result: the publisher takes the PNG only
// when the commitment lets the result be revealed at once; otherwise
// nothing of it is read, and the volunteer hears it must wait.
func TestCommitDeliver(t *testing.T) {
	mb, pub, _ := signedManifest(t)
	_, sm, _ := job.OpenManifest(mb)
	ref := Ref{Job: sm.ID(), Lease: "l1"}
	srv := &recorder{}
	net := &loopback{from: "volunteer", s: srv}
	c := NewClient(net)
	ctx := context.Background()

	delivered, err := c.CommitDeliver(ctx, pub, Delivery{Ref: ref, CU: 1}, job.Commitment{1}, strings.NewReader("png bytes"), 9)
	if err != nil || delivered || net.last.opened || srv.delivered != nil {
		t.Fatalf("other replicas still rendering: delivered %v, %v (body opened %v); want committed only", delivered, err, net.last.opened)
	}
	srv.reveal = true
	delivered, err = c.CommitDeliver(ctx, pub, Delivery{Ref: ref, CU: 1}, job.Commitment{1}, strings.NewReader("png bytes"), 9)
	if err != nil || !delivered || string(srv.delivered) != "png bytes" {
		t.Fatalf("revealed at once: delivered %v, %q, %v; want the PNG taken", delivered, srv.delivered, err)
	}
	// A delivery the publisher refuses is an error, not "wait".
	delivered, err = c.CommitDeliver(ctx, pub, Delivery{Ref: ref, CU: 1}, job.Commitment{1}, strings.NewReader(strings.Repeat("x", 100)), 100)
	if !Refused(err) || delivered || net.last.opened {
		t.Fatalf("an oversized result: delivered %v, %v (opened %v); want refused before its body was read", delivered, err, net.last.opened)
	}
	if want, got := "commit l1,commit l1,deliver l1,commit l1,deliver l1", strings.Join(srv.calls, ","); got != want {
		t.Fatalf("server saw %s\nwant %s", got, want)
	}
}

// A client verifies each distinct signed manifest once: the same bytes
// again are granted without another verification, and a grant whose
// manifest differs from the remembered one by a byte of its signature is
// refused, before and after the genuine one was remembered.
func TestClientRemembersOnlyVerifiedManifests(t *testing.T) {
	mb, pub, _ := signedManifest(t)
	_, sm, _ := job.OpenManifest(mb)
	id := sm.ID()
	srv := &recorder{}
	c := NewClient(&loopback{from: "volunteer", s: srv})
	ctx := context.Background()
	var tampered job.SignedManifest = sm
	tampered.Signature = bytes.Clone(sm.Signature)
	tampered.Signature[0] ^= 1
	forged, err := tampered.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	grant := func(signed []byte) error {
		srv.grant = &Grant{Ref: Ref{Job: id, Lease: "l"}, Task: job.Task{Job: id, Frame: 1}, Signed: signed}
		a, err := c.Lease(ctx, pub, id, nil)
		if err == nil && a.Grant == nil {
			t.Fatal("no grant and no error")
		}
		return err
	}
	for i := range 3 {
		if err := grant(forged); !errors.Is(err, job.ErrBadSignature) {
			t.Fatalf("round %d: a grant with a forged manifest signature: %v; want ErrBadSignature", i, err)
		}
		if err := grant(mb); err != nil {
			t.Fatalf("round %d: the genuine grant: %v", i, err)
		}
	}
	if len(c.opened) != 1 {
		t.Fatalf("the client remembers %d manifests; want the one genuine", len(c.opened))
	}
}
