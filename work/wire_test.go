package work

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/p2p"
)

// signedManifest returns a valid signed manifest's wire bytes and its
// publisher.
func signedManifest(t testing.TB) ([]byte, peer.ID, job.Manifest) {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(key)
	var ih [20]byte
	hex.Decode(ih[:], []byte("d2474e86c95b19b8bcfdb92bc12c9d44667cfa36"))
	frames, _ := job.ParseFrameSpec("1-6")
	m := job.Manifest{
		Version: job.FormatVersion, Publisher: id, Created: 1795000000,
		Renderer: job.Renderer{Name: "builtin", Version: "1"},
		Scene:    job.Scene{Asset: job.AssetCID(ih), Main: "demo.scene"},
		Frames:   frames, Width: 64, Height: 36, Samples: 4, Output: job.OutputPNG,
		Profile: job.DefaultProfile("builtin"), Replicas: 2,
		Limits: job.Limits{MaxSecondsPerFrame: 600, MaxMemoryMiB: 1024},
	}
	sm, err := m.Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sm.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b, id, m
}

func TestAnnouncement(t *testing.T) {
	mb, pub, m := signedManifest(t)
	good := Announcement{Manifest: mb, State: "running", TasksLeft: 6}
	data, _ := Encode(good)
	a, got, sm, err := DecodeAnnouncement(data, pub.String())
	if err != nil {
		t.Fatal(err)
	}
	if a.TasksLeft != 6 || got.Frames.Len() != m.Frames.Len() || !sm.ID().Defined() {
		t.Fatalf("decoded %+v %+v", a, got)
	}
	other, _, _ := signedManifest(t)
	_, stranger, _ := signedManifest(t)
	for name, tc := range map[string]struct {
		data []byte
		from string
		want string
	}{
		"relayed by someone else": {data, stranger.String(), "another publisher"},
		"bad state":               {mustEncode(Announcement{Manifest: mb, State: "evil"}), pub.String(), "state"},
		"too many tasks left":     {mustEncode(Announcement{Manifest: mb, State: "running", TasksLeft: 7}), pub.String(), "range"},
		"tampered manifest":       {tamper(t, data, `"width":64`, `"width":65`), pub.String(), "signature"},
		"other's manifest":        {mustEncode(Announcement{Manifest: other, State: "running"}), pub.String(), "another publisher"},
		"unknown field":           {[]byte(`{"manifest":{},"state":"running","x":1}`), pub.String(), "unknown field"},
		"trailing data":           {append(append([]byte{}, data...), '{'), pub.String(), "trailing"},
		"oversized":               {make([]byte, p2p.MaxMessageSize+1), pub.String(), "limit"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, _, err := DecodeAnnouncement(tc.data, tc.from); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func tamper(t *testing.T, data []byte, old, new string) []byte {
	t.Helper()
	if !strings.Contains(string(data), old) {
		t.Fatalf("%q not in %s", old, data)
	}
	return []byte(strings.Replace(string(data), old, new, 1))
}

func mustEncode(v any) []byte {
	b, err := Encode(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestWorkMessages(t *testing.T) {
	mb, _, _ := signedManifest(t)
	_, sm, _ := job.OpenManifest(mb)
	jobID := sm.ID()
	var commit job.Commitment
	commit[0] = 1
	ok := []Request{
		{Op: OpLease, Job: jobID.String(), Renderers: map[string]string{"builtin": "1"}},
		{Op: OpLease, Job: jobID.String(), Renderers: map[string]string{"builtin": "1"}, Speed: 1.7},
		{Op: OpCommit, Job: jobID.String(), Lease: "l1", Commit: &commit},
		{Op: OpDeliver, Job: jobID.String(), Lease: "l1", CU: 1500},
		{Op: OpAwait, Job: jobID.String(), Lease: "l1"},
		{Op: OpFail, Job: jobID.String(), Lease: "l1", Reason: "renderer crashed"},
		{Op: OpRelease, Job: jobID.String(), Lease: "l1"},
		{Op: OpRenew, Job: jobID.String(), Lease: "l1"},
		{Op: OpReceipts},
		{Op: OpCountersign, Receipt: json.RawMessage(`{"seq":1}`)},
		{Op: OpCountersign, Receipts: []json.RawMessage{json.RawMessage(`{"seq":1}`), json.RawMessage(`{"seq":2}`)}},
	}
	for _, r := range ok {
		got, err := DecodeRequest(mustEncode(r))
		if err != nil || got.Op != r.Op {
			t.Errorf("%s: %v", r.Op, err)
		}
	}
	bad := map[string]Request{
		"unknown op":        {Op: "steal"},
		"renew no lease":    {Op: OpRenew, Job: jobID.String()},
		"lease without job": {Op: OpLease},
		"lease of an asset": {Op: OpLease, Job: "baf5rcfgsi5hinsk3dg4lz7nzfpaszhkemz6punq"},
		"commit no lease":   {Op: OpCommit, Job: jobID.String(), Commit: &commit},
		"commit no job":     {Op: OpCommit, Lease: "l1", Commit: &commit},
		"deliver no lease":  {Op: OpDeliver, Job: jobID.String()},
		"await no lease":    {Op: OpAwait, Job: jobID.String()},
		"release no job":    {Op: OpRelease, Lease: "l1"},
		"negative CU":       {Op: OpDeliver, Job: jobID.String(), Lease: "l1", CU: -1},
		"negative speed":    {Op: OpLease, Job: jobID.String(), Speed: -1},
		"absurd speed":      {Op: OpLease, Job: jobID.String(), Speed: 1e6},
		"countersign none":  {Op: OpCountersign},
		"countersign both": {Op: OpCountersign, Receipt: json.RawMessage(`{"seq":1}`),
			Receipts: []json.RawMessage{json.RawMessage(`{"seq":2}`)}},
		"countersign too many": {Op: OpCountersign, Receipts: slices.Repeat([]json.RawMessage{json.RawMessage(`{}`)}, MaxReceiptsPerAnswer+1)},
	}
	for name, r := range bad {
		if _, err := DecodeRequest(mustEncode(r)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}

	grant := Response{Grant: &LeaseGrant{Lease: "l1", Task: job.Task{Job: jobID, Frame: 1}, Manifest: mb}}
	if _, err := DecodeResponse(mustEncode(grant)); err != nil {
		t.Fatalf("valid grant: %v", err)
	}
	for _, slots := range []int{-1, maxSlots + 1} {
		g := *grant.Grant
		g.Slots = slots
		if _, err := DecodeResponse(mustEncode(Response{Grant: &g})); err == nil {
			t.Errorf("a grant of %d slots was accepted", slots)
		}
	}
	other, _, _ := signedManifest(t)
	grant.Grant.Manifest = other
	if _, err := DecodeResponse(mustEncode(grant)); err == nil {
		t.Fatal("a lease for another job than its manifest was accepted")
	}
}

// Everything decoded from a peer: any bytes give an error or a message that
// re-encodes and decodes to the same thing.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"op":"lease","job":"x"}`))
	f.Add([]byte(`{"op":"deliver","lease":"l","cu":1}`))
	f.Add([]byte(`{"op":"commit","lease":"l","commit":"` + strings.Repeat("ab", 32) + `"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRequest(data)
		if err != nil {
			return
		}
		again, err := DecodeRequest(mustEncode(r))
		if err != nil || again.Op != r.Op || again.Lease != r.Lease || again.CU != r.CU {
			t.Fatalf("round trip: %+v -> %+v, %v", r, again, err)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	mb, _, _ := signedManifest(f)
	_, sm, _ := job.OpenManifest(mb)
	f.Add(mustEncode(Response{Grant: &LeaseGrant{Lease: "l", Task: job.Task{Job: sm.ID()}, Manifest: mb}}))
	f.Add([]byte(`{"retry":5}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeResponse(data)
		if err != nil {
			return
		}
		if _, err := DecodeResponse(mustEncode(r)); err != nil {
			t.Fatalf("re-encoded response rejected: %v", err)
		}
	})
}

func FuzzDecodeAnnouncement(f *testing.F) {
	mb, pub, _ := signedManifest(f)
	f.Add(mustEncode(Announcement{Manifest: mb, State: "running", TasksLeft: 3}), pub.String())
	f.Fuzz(func(t *testing.T, data []byte, from string) {
		a, m, _, err := DecodeAnnouncement(data, from)
		if err != nil {
			return
		}
		if m.Publisher.String() != from {
			t.Fatalf("accepted an announcement of %s from %s", m.Publisher, from)
		}
		if _, _, _, err := DecodeAnnouncement(mustEncode(a), from); err != nil {
			t.Fatalf("re-encoded announcement rejected: %v", err)
		}
	})
}
