package node

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/p2p"
)

// renew is a volunteer's heartbeat on a lease. Renewals are soft state and
// not persisted: after a restart, Restore extends live leases by the
// downtime.
func (p *publisher) renew(from peer.ID, req p2p.WorkRequest) (p2p.WorkResponse, error) {
	j, err := p.job(req.Job)
	if err != nil {
		return p2p.WorkResponse{}, err
	}
	j.mu.Lock()
	exp, err := j.coord.Renew(p.now(), req.Lease, from)
	if err == nil {
		if j.progress == nil {
			j.progress = map[string]float64{}
		}
		j.progress[req.Lease] = req.Progress
	}
	j.mu.Unlock()
	if err != nil {
		return p2p.WorkResponse{}, err
	}
	return p2p.WorkResponse{Expires: exp.Unix()}, nil
}

// credit issues a receipt to every peer whose result agreed with an
// accepted one and marks the task credited. The ledger refuses a second
// receipt for the same task and volunteer, so after a crash between the two
// steps crediting again issues nothing twice.
func (p *publisher) credit(j *pubJob) {
	j.mu.Lock()
	defer j.mu.Unlock()
	changed := false
	for _, t := range j.coord.Uncredited() {
		res, peers, ok := j.coord.Accepted(t)
		if !ok {
			continue
		}
		// A frame is worth the same whoever rendered it: the median of
		// what this job's accepted results claimed (DESIGN.md §6).
		cu := j.costs.Median()
		failed := false
		for _, v := range peers {
			if v == p.self {
				continue
			}
			_, err := p.ledger.Issue(p.now(), p.key, v, t, res.CID, cu)
			if err != nil && !errors.Is(err, credits.ErrAlreadyIssued) {
				p.log.Error("receiptNotIssued", "task", t.String(), "peer", v, "err", err)
				failed = true
			}
		}
		if !failed {
			j.coord.MarkCredited(t)
			changed = true
		}
	}
	if changed {
		if err := p.save(j); err != nil {
			p.log.Error("jobNotSaved", "job", j.id, "err", err)
		}
	}
}

// pendingReceipts hands a volunteer the receipts it has not countersigned.
func (p *publisher) pendingReceipts(from peer.ID) (p2p.WorkResponse, error) {
	list, err := p.ledger.PendingFor(from)
	if err != nil {
		return p2p.WorkResponse{}, err
	}
	var resp p2p.WorkResponse
	for i, r := range list {
		if i == 64 {
			break // the rest next time; keeps the answer small
		}
		b, err := r.Marshal()
		if err != nil {
			return p2p.WorkResponse{}, err
		}
		resp.Receipts = append(resp.Receipts, b)
	}
	return resp, nil
}

// countersigned stores a receipt the volunteer countersigned.
func (p *publisher) countersigned(from peer.ID, data []byte) error {
	r, sr, err := credits.OpenReceipt(data)
	if err != nil {
		return err
	}
	if r.Volunteer != from || r.Publisher != p.self {
		return fmt.Errorf("receipt %d is not between %s and this node", r.Seq, from)
	}
	return p.ledger.RecordCountersigned(sr)
}
