package work

import (
	"context"
	"errors"
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

// loopback calls a Handler in memory, as p2p would over a stream from a
// peer.
type loopback struct {
	from peer.ID
	h    p2p.Handler
}

func (l loopback) Call(ctx context.Context, _ peer.ID, proto protocol.ID, req []byte) ([]byte, error) {
	if proto != Protocol {
		return nil, errors.New("wrong protocol")
	}
	resp, err := l.h(ctx, l.from, req)
	if err != nil {
		return nil, &p2p.RemoteError{Msg: err.Error()}
	}
	return resp, nil
}

// recorder is a Server that records what it was asked and answers from
// its fields.
type recorder struct {
	calls  []string
	grant  *Grant
	retry  time.Duration
	expiry time.Time
}

func (r *recorder) note(op string, from peer.ID, ref Ref) {
	r.calls = append(r.calls, op+" "+ref.Lease)
}

func (r *recorder) Lease(_ context.Context, from peer.ID, id cid.Cid, _ map[string]string) (LeaseAnswer, error) {
	r.note("lease", from, Ref{Job: id})
	return LeaseAnswer{Grant: r.grant, Retry: r.retry}, nil
}
func (r *recorder) Renew(_ context.Context, from peer.ID, ref Ref, p float64) (time.Time, error) {
	r.note("renew", from, ref)
	return r.expiry, nil
}
func (r *recorder) Commit(_ context.Context, from peer.ID, ref Ref, _ job.Commitment) error {
	r.note("commit", from, ref)
	return nil
}
func (r *recorder) Deliver(_ context.Context, from peer.ID, d Delivery) error {
	r.note("deliver", from, d.Ref)
	return nil
}
func (r *recorder) Fail(_ context.Context, from peer.ID, ref Ref, reason string) error {
	r.note("fail", from, ref)
	return errors.New("no such lease")
}
func (r *recorder) Release(_ context.Context, from peer.ID, ref Ref) error {
	r.note("release", from, ref)
	return nil
}
func (r *recorder) Receipts(context.Context, peer.ID) ([]credits.SignedReceipt, error) {
	return nil, nil
}
func (r *recorder) Countersign(context.Context, peer.ID, credits.SignedReceipt) error { return nil }

// The typed client and server agree on every operation, the client refuses
// a grant that is not what it asked for, and an answered error is a
// refusal.
func TestClientAndHandler(t *testing.T) {
	mb, pub, _ := signedManifest(t)
	m, sm, _ := job.OpenManifest(mb)
	id := sm.ID()
	srv := &recorder{expiry: time.Unix(1_800_000_020, 0)}
	c := NewClient(loopback{from: "volunteer", h: Handler(srv)})
	ctx := context.Background()

	srv.retry = 5 * time.Second
	a, err := c.Lease(ctx, pub, id, nil)
	if err != nil || a.Grant != nil || a.Retry != 5*time.Second {
		t.Fatalf("no work: %+v, %v; want retry 5s", a, err)
	}
	srv.grant = &Grant{Ref: Ref{Job: id, Lease: "l1"}, Task: job.Task{Job: id, Frame: 3}, Expires: srv.expiry, Signed: mb}
	a, err = c.Lease(ctx, pub, id, nil)
	if err != nil || a.Grant == nil || a.Grant.Lease != "l1" || a.Grant.Task.Frame != 3 || a.Grant.Manifest.Width != m.Width {
		t.Fatalf("grant: %+v, %v", a.Grant, err)
	}
	ref := a.Grant.Ref
	if exp, err := c.Renew(ctx, pub, ref, 0.5); err != nil || !exp.Equal(srv.expiry) {
		t.Fatalf("renew: %v, %v", exp, err)
	}
	if err := c.Commit(ctx, pub, ref, job.Commitment{1}); err != nil {
		t.Fatal(err)
	}
	var ih [20]byte
	if err := c.Deliver(ctx, pub, Delivery{Ref: ref, Result: job.AssetCID(ih), CU: 1}); err != nil {
		t.Fatal(err)
	}
	if err := c.Release(ctx, pub, ref); err != nil {
		t.Fatal(err)
	}
	if err := c.Fail(ctx, pub, ref, "crashed"); !Refused(err) || !strings.Contains(err.Error(), "no such lease") {
		t.Fatalf("fail answered with an error: %v; want a refusal", err)
	}
	want := "lease ,lease ,renew l1,commit l1,deliver l1,release l1,fail l1"
	if got := strings.Join(srv.calls, ","); got != want {
		t.Fatalf("server saw %s\nwant %s", got, want)
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
