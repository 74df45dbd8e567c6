package work

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/p2p"
)

// Wire messages of the jobs topic and the work protocol. Each is compact
// JSON decoded strictly (unknown fields, trailing data and oversized input
// are rejected) and validated before use: everything here comes from
// strangers.

// Announcement is what a publisher gossips about an open job. Pub/sub signs
// each message with its author's key; the validator checks that the author
// is the manifest's publisher, so the dynamic fields are the publisher's too.
//
// GossipSub validates messages concurrently and may deliver two
// announcements of one job out of order (a pause and the resume right
// after it): Seq, increasing per publisher, lets a volunteer drop the older
// one. 0 means unordered.
type Announcement struct {
	Manifest  json.RawMessage `json:"manifest"` // job.SignedManifest wire form
	State     string          `json:"state"`    // "running" or "paused"
	TasksLeft int             `json:"tasks_left"`
	Seq       int64           `json:"seq,omitempty"`
}

// DecodeAnnouncement parses and checks an announcement authored by from,
// returning the verified manifest.
func DecodeAnnouncement(data []byte, from string) (Announcement, job.Manifest, job.SignedManifest, error) {
	var a Announcement
	if err := decodeStrict(data, p2p.MaxMessageSize, &a); err != nil {
		return a, job.Manifest{}, job.SignedManifest{}, fmt.Errorf("announcement: %w", err)
	}
	m, sm, err := job.OpenManifest(a.Manifest)
	if err != nil {
		return a, job.Manifest{}, job.SignedManifest{}, fmt.Errorf("announcement: %w", err)
	}
	if m.Publisher.String() != from {
		return a, job.Manifest{}, job.SignedManifest{}, errors.New("announcement: relayed for another publisher")
	}
	if a.State != "running" && a.State != "paused" {
		return a, job.Manifest{}, job.SignedManifest{}, fmt.Errorf("announcement: unknown state %q", a.State)
	}
	if a.TasksLeft < 0 || a.TasksLeft > m.TaskCount() || a.Seq < 0 {
		return a, job.Manifest{}, job.SignedManifest{}, errors.New("announcement: counts out of range")
	}
	return a, m, sm, nil
}

// Operations of the work protocol (Request.Op).
const (
	OpLease       = "lease"       // ask for a task of a job
	OpRenew       = "renew"       // heartbeat: still working on a lease
	OpCommit      = "commit"      // commit to a result before revealing it
	OpAwait       = "await"       // wait until the task's replicas have all committed
	OpDeliver     = "deliver"     // reveal the result: its PNG is the request's body; with Commit, commit first (Client.CommitDeliver)
	OpFail        = "fail"        // hand a lease back: the render failed
	OpRelease     = "release"     // hand a lease back unfinished
	OpReceipts    = "receipts"    // ask for receipts to countersign
	OpCountersign = "countersign" // return a countersigned receipt
)

// Request is a volunteer's request to a publisher. Every request travels
// as the header of a body call; only OpDeliver has a body.
type Request struct {
	Op        string            `json:"op"`
	Job       string            `json:"job,omitempty"`
	Renderers map[string]string `json:"renderers,omitempty"` // name -> exact version (lease)
	Lease     string            `json:"lease,omitempty"`
	Commit    *job.Commitment   `json:"commit,omitempty"`
	CU        int64             `json:"cu,omitempty"`       // claimed milli-CU of the render (deliver)
	Reason    string            `json:"reason,omitempty"`   // why a render failed
	Progress  float64           `json:"progress,omitempty"` // renew: fraction of the work done, 0..1
	Backup    bool              `json:"backup,omitempty"`   // lease: no job had work; a straggler's task to race is welcome
	Speed     float64           `json:"speed,omitempty"`    // lease: the volunteer's speed relative to the reference machine, as it measured it
	Receipt   json.RawMessage   `json:"receipt,omitempty"`
	Receipts  []json.RawMessage `json:"receipts,omitempty"` // countersign: several at once
}

// maxSlots bounds LeaseGrant.Slots.
const maxSlots = 64

// LeaseGrant answers OpLease.
type LeaseGrant struct {
	Lease    string          `json:"lease"`
	Task     job.Task        `json:"task"`
	Salt     job.Salt        `json:"salt"`
	Expires  int64           `json:"expires"`  // Unix seconds
	Manifest json.RawMessage `json:"manifest"` // signed manifest, so late joiners need no announcement
	// Crop, for a check replica: render only these pixels (x0, y0, x1, y1
	// in the frame, inside the task's tile) and deliver them alone.
	Crop *[4]int `json:"crop,omitempty"`
	// Slots: how many leases of the job the volunteer may hold
	// uncommitted (Grant.Slots).
	Slots int `json:"slots,omitempty"`
}

// Response answers a Request.
type Response struct {
	Grant    *LeaseGrant       `json:"grant,omitempty"`
	Receipts []json.RawMessage `json:"receipts,omitempty"`
	Retry    int64             `json:"retry,omitempty"`   // seconds to wait before asking again (no work yet)
	Expires  int64             `json:"expires,omitempty"` // a renewed lease's new expiry, Unix seconds
	Reveal   bool              `json:"reveal,omitempty"`  // commit, await: deliver now; deliver with a commitment: delivered
}

// MaxWorkMessage bounds one work request (without its body) or response.
const MaxWorkMessage = p2p.MaxRPCMessage

// DecodeRequest parses and checks a request.
func DecodeRequest(data []byte) (Request, error) {
	var r Request
	if err := decodeStrict(data, MaxWorkMessage, &r); err != nil {
		return r, fmt.Errorf("work request: %w", err)
	}
	need := func(ok bool, what string) error {
		if !ok {
			return fmt.Errorf("work request %q: missing %s", r.Op, what)
		}
		return nil
	}
	switch r.Op {
	case OpLease, OpRenew, OpCommit, OpAwait, OpDeliver, OpFail, OpRelease:
		if err := checkJobID(r.Job); err != nil {
			return r, err
		}
	}
	switch r.Op {
	case OpLease:
		if len(r.Renderers) > 32 {
			return r, errors.New("work request: too many renderers")
		}
		if !(r.Speed >= 0 && r.Speed <= credits.MaxSpeed) {
			return r, fmt.Errorf("work request: speed %v outside 0..%v", r.Speed, credits.MaxSpeed)
		}
		return r, nil
	case OpCommit:
		return r, errors.Join(need(r.Lease != "", "lease"), need(r.Commit != nil, "commitment"))
	case OpDeliver:
		if r.CU < 0 {
			return r, errors.New("work request: negative compute units")
		}
		return r, need(r.Lease != "", "lease")
	case OpFail:
		if len(r.Reason) > maxReason {
			r.Reason = r.Reason[:maxReason]
		}
		return r, need(r.Lease != "", "lease")
	case OpRenew:
		if !(r.Progress >= 0 && r.Progress <= 1) {
			return r, fmt.Errorf("work request: progress %v outside 0..1", r.Progress)
		}
		return r, need(r.Lease != "", "lease")
	case OpAwait, OpRelease:
		return r, need(r.Lease != "", "lease")
	case OpReceipts:
		return r, nil
	case OpCountersign:
		if len(r.Receipts) > MaxReceiptsPerAnswer {
			return r, fmt.Errorf("work request: %d receipts, at most %d at once", len(r.Receipts), MaxReceiptsPerAnswer)
		}
		return r, need(len(r.Receipt) > 0 != (len(r.Receipts) > 0), "one receipt, or receipts")
	}
	return r, fmt.Errorf("work request: unknown op %q", r.Op)
}

// DecodeResponse parses and checks a response.
func DecodeResponse(data []byte) (Response, error) {
	return decodeResponse(data, job.OpenManifest)
}

// decodeResponse is DecodeResponse opening a grant's signed manifest
// with open; a nil open leaves the manifest to the caller (Client.lease
// opens and checks it against the job it asked for).
func decodeResponse(data []byte, open func([]byte) (job.Manifest, job.SignedManifest, error)) (Response, error) {
	var r Response
	if err := decodeStrict(data, MaxWorkMessage, &r); err != nil {
		return r, fmt.Errorf("work response: %w", err)
	}
	if g := r.Grant; g != nil {
		if g.Lease == "" || !g.Task.Job.Defined() {
			return r, errors.New("work response: incomplete lease")
		}
		if g.Slots < 0 || g.Slots > maxSlots {
			return r, fmt.Errorf("work response: %d slots, at most %d", g.Slots, maxSlots)
		}
		if open != nil {
			_, sm, err := open(g.Manifest)
			if err != nil {
				return r, fmt.Errorf("work response: %w", err)
			}
			if !sm.ID().Equals(g.Task.Job) {
				return r, errors.New("work response: lease for another job than its manifest")
			}
		}
	}
	if len(r.Receipts) > 1024 {
		return r, errors.New("work response: too many receipts")
	}
	return r, nil
}

func checkJobID(s string) error {
	c, err := cid.Decode(s)
	if err != nil {
		return fmt.Errorf("work request: job: %w", err)
	}
	return job.CheckID(c)
}

// Encode marshals a wire message.
func Encode(v any) ([]byte, error) { return json.Marshal(v) }

// decodeStrict decodes exactly one JSON value of at most max bytes with no
// unknown fields.
func decodeStrict(data []byte, max int, v any) error {
	if len(data) > max {
		return fmt.Errorf("%d bytes, over the %d limit", len(data), max)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}
