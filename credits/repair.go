package credits

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/renderswarm/renderswarm/job"
)

// Repairing a pair's chain after a crash.
//
// A publisher's ledger makes its writes durable before a receipt leaves
// the node, but a database restored from an older copy can still forget
// receipts it issued, and the publisher then issues the same numbers again
// for other tasks (or the same tasks under other numbers). The volunteer
// holds the originals, countersigned. When its Accept of a re-issue hits
// ErrChainConflict, it sends back its held copies (Conflicting); the
// publisher Adopts them — its own signature proves them — and issues the
// tasks of its never-countersigned receipts again after them. Nothing is
// lost, nothing counted twice, and the pair's chain goes on.

// Conflicting returns the receipts this ledger holds, countersigned, that
// share r's pair and its Seq or task: what to send back to r's publisher
// when Accept reports ErrChainConflict.
func (l *Ledger) Conflicting(r Receipt) ([]SignedReceipt, error) {
	rows, err := l.db.Query(`SELECT receipt, sig, countersig FROM credits_receipts
		WHERE publisher = ? AND volunteer = ? AND (seq = ? OR task = ?) AND countersig IS NOT NULL`,
		r.Publisher.String(), r.Volunteer.String(), int64(r.Seq), r.Task.String())
	if err != nil {
		return nil, fmt.Errorf("finding conflicting receipts: %w", err)
	}
	defer rows.Close()
	var out []SignedReceipt
	for rows.Next() {
		var s SignedReceipt
		if err := rows.Scan(&s.Receipt, &s.Signature, &s.Countersig); err != nil {
			return nil, fmt.Errorf("finding conflicting receipts: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Adopt takes s — a receipt this node issued and its volunteer
// countersigned, which this ledger lost or holds differently — as the
// truth: the pair's receipts that were never countersigned and sit at or
// after s's Seq, or cover s's task, are replaced by s, and their other
// tasks are issued again, signed with key, after the pair's last receipt.
// It returns how many were issued again. Adopting a receipt already held
// changes nothing. A countersigned receipt in the way is a real conflict
// and is reported with ErrChainConflict; nothing changes then.
func (l *Ledger) Adopt(now time.Time, key crypto.PrivKey, s SignedReceipt) (int, error) {
	if err := checkKey(key, l.self); err != nil {
		return 0, fmt.Errorf("adopting receipt: %w", err)
	}
	r, err := s.Verify()
	if err != nil {
		return 0, err
	}
	if !s.Countersigned() {
		return 0, fmt.Errorf("adopting receipt %d for %s: %w", r.Seq, r.Volunteer, ErrNotCountersigned)
	}
	if r.Publisher != l.self {
		return 0, fmt.Errorf("adopting receipt from %s: %w as publisher", r.Publisher, ErrNotParty)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	tx, err := l.db.Begin()
	if err != nil {
		return 0, fmt.Errorf("adopting receipt: %w", err)
	}
	defer tx.Rollback()
	pub, vol := r.Publisher.String(), r.Volunteer.String()
	type pending struct {
		task   job.Task
		result cid.Cid
		cu     int64
	}
	var redo []pending
	rows, err := tx.Query(`SELECT receipt, countersig FROM credits_receipts
		WHERE publisher = ? AND volunteer = ? AND (seq >= ? OR task = ?) ORDER BY seq`,
		pub, vol, int64(r.Seq), r.Task.String())
	if err != nil {
		return 0, fmt.Errorf("adopting receipt: %w", err)
	}
	held := false
	for rows.Next() {
		var b, counter []byte
		if err := rows.Scan(&b, &counter); err != nil {
			rows.Close()
			return 0, fmt.Errorf("adopting receipt: %w", err)
		}
		h, err := UnmarshalReceipt(b)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("adopting receipt: stored %w", err)
		}
		switch {
		case bytes.Equal(b, s.Receipt):
			held = true
		case counter != nil && (h.Seq == r.Seq || h.Task == r.Task):
			rows.Close()
			return 0, fmt.Errorf("adopting receipt %d of %s (task %s): %w: countersigned receipt %d holds its place",
				r.Seq, r.Volunteer, r.Task, ErrChainConflict, h.Seq)
		case counter == nil:
			if h.Task != r.Task {
				redo = append(redo, pending{h.Task, h.Result, h.CU})
			}
		}
	}
	rows.Close()
	if held {
		return 0, nil
	}
	if _, err := tx.Exec(`DELETE FROM credits_receipts WHERE publisher = ? AND volunteer = ? AND countersig IS NULL
		AND (seq >= ? OR task = ?)`, pub, vol, int64(r.Seq), r.Task.String()); err != nil {
		return 0, fmt.Errorf("adopting receipt: %w", err)
	}
	if err := checkChain(tx, r); err != nil {
		return 0, err
	}
	if err := insert(tx, r, s); err != nil {
		return 0, fmt.Errorf("adopting receipt: %w", err)
	}
	for _, p := range redo {
		if _, err := issueTx(tx, now, key, l.self, r.Volunteer, p.task, p.result, p.cu); err != nil {
			return 0, fmt.Errorf("adopting receipt: issuing %s again: %w", p.task, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("adopting receipt: %w", err)
	}
	return len(redo), nil
}

// errNoRows reports a query that found nothing.
func errNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
