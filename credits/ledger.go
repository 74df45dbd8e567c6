package credits

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/internal/db"
	"github.com/renderswarm/renderswarm/job"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Ledger decisions. Errors wrap exactly one of these (or a decoding or
// signature error) so callers can tell what to do.
var (
	// ErrAlreadyIssued: this publisher already issued a receipt to this
	// volunteer for this task (perhaps before a restart). PendingFor still
	// has it if it is not yet countersigned.
	ErrAlreadyIssued = errors.New("receipt already issued for this task and volunteer")
	// ErrChainConflict: the receipt contradicts the pair's chain this ledger
	// holds: another receipt with its Seq or task, a Total lower than an
	// earlier receipt's plus this CU, or inconsistent contiguous totals. It
	// is evidence of a publisher rewriting history.
	ErrChainConflict = errors.New("receipt conflicts with the pair's chain")
	// ErrNotParty: the receipt does not name this node in the role the call
	// needs.
	ErrNotParty = errors.New("receipt does not name this node")
	// ErrUnknownReceipt: RecordCountersigned got a receipt this node never
	// issued.
	ErrUnknownReceipt = errors.New("receipt not issued by this ledger")
	// ErrOwnReceipt: Learn was given a receipt naming this node, which only
	// Accept and RecordCountersigned may store.
	ErrOwnReceipt = errors.New("receipt names this node: use Accept or RecordCountersigned")
)

// Ledger is a node's record of receipts in its database: those it issued as
// a publisher, those it accepted as a volunteer, and countersigned receipts
// of other pairs it was shown (Learn), all kept as signed bytes. Its methods
// are safe for concurrent use; it must be the only writer of its tables.
type Ledger struct {
	db   *sql.DB
	self peer.ID
	mu   sync.Mutex // serializes writes, so chains are read and extended atomically
}

// NewLedger applies the credits migrations to d and returns the ledger of
// the node self.
func NewLedger(d *sql.DB, self peer.ID) (*Ledger, error) {
	if err := self.Validate(); err != nil {
		return nil, fmt.Errorf("opening ledger: self %q: %w", self, err)
	}
	if err := db.Migrate(context.Background(), d, "credits", migrations, "migrations"); err != nil {
		return nil, fmt.Errorf("opening ledger: %w", err)
	}
	return &Ledger{db: d, self: self}, nil
}

// Issue signs, as this node's publisher identity key, the next receipt of
// the (self, volunteer) pair for an accepted result worth cu milli-CU, and
// stores it pending the volunteer's countersignature. Seq and Total continue
// the pair's chain atomically. A second receipt for the same task and
// volunteer is refused with ErrAlreadyIssued, also after a restart.
func (l *Ledger) Issue(now time.Time, key crypto.PrivKey, volunteer peer.ID, task job.Task, result cid.Cid, cu int64) (SignedReceipt, error) {
	if err := checkKey(key, l.self); err != nil {
		return SignedReceipt{}, fmt.Errorf("issuing receipt: %w", err)
	}
	if cu < 0 || cu > MaxMilliCU {
		return SignedReceipt{}, fmt.Errorf("issuing receipt: %w: cu %d", ErrInvalidReceipt, cu)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	tx, err := l.db.Begin()
	if err != nil {
		return SignedReceipt{}, fmt.Errorf("issuing receipt: %w", err)
	}
	defer tx.Rollback()
	s, err := issueTx(tx, now, key, l.self, volunteer, task, result, cu)
	if err != nil {
		return SignedReceipt{}, err
	}
	if err := tx.Commit(); err != nil {
		return SignedReceipt{}, fmt.Errorf("issuing receipt: %w", err)
	}
	return s, nil
}

// issueTx issues the pair's next receipt within tx.
func issueTx(tx *sql.Tx, now time.Time, key crypto.PrivKey, self, volunteer peer.ID, task job.Task, result cid.Cid, cu int64) (SignedReceipt, error) {
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM credits_receipts WHERE publisher = ? AND volunteer = ? AND task = ?`,
		self.String(), volunteer.String(), task.String()).Scan(&n); err != nil {
		return SignedReceipt{}, fmt.Errorf("issuing receipt: %w", err)
	}
	if n > 0 {
		return SignedReceipt{}, fmt.Errorf("issuing receipt for %s to %s: %w", task, volunteer, ErrAlreadyIssued)
	}
	var seq, total int64
	err := tx.QueryRow(`SELECT seq, total FROM credits_receipts WHERE publisher = ? AND volunteer = ? ORDER BY seq DESC LIMIT 1`,
		self.String(), volunteer.String()).Scan(&seq, &total)
	if err != nil && !errNoRows(err) {
		return SignedReceipt{}, fmt.Errorf("issuing receipt: %w", err)
	}
	r := Receipt{Publisher: self, Volunteer: volunteer, Seq: uint64(seq) + 1, Task: task, Result: result,
		CU: cu, Total: total + cu, Issued: now.Unix()}
	s, err := r.Sign(key)
	if err != nil {
		return SignedReceipt{}, err
	}
	if err := insert(tx, r, s); err != nil {
		return SignedReceipt{}, fmt.Errorf("issuing receipt: %w", err)
	}
	return s, nil
}

// PendingFor lists the receipts this node issued to volunteer that are not
// yet countersigned, in Seq order: what to (re)send it.
func (l *Ledger) PendingFor(volunteer peer.ID) ([]SignedReceipt, error) {
	rows, err := l.db.Query(`SELECT receipt, sig FROM credits_receipts
		WHERE publisher = ? AND volunteer = ? AND countersig IS NULL ORDER BY seq`,
		l.self.String(), volunteer.String())
	if err != nil {
		return nil, fmt.Errorf("listing pending receipts: %w", err)
	}
	defer rows.Close()
	var out []SignedReceipt
	for rows.Next() {
		var s SignedReceipt
		if err := rows.Scan(&s.Receipt, &s.Signature); err != nil {
			return nil, fmt.Errorf("listing pending receipts: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing pending receipts: %w", err)
	}
	return out, nil
}

// RecordCountersigned stores the volunteer's countersignature on a receipt
// this node issued, after verifying it and comparing the publisher
// signature with the one issued. Recording it again is a no-op.
func (l *Ledger) RecordCountersigned(s SignedReceipt) error {
	return l.RecordCountersignedAll([]SignedReceipt{s})[0]
}

// RecordCountersignedAll is RecordCountersigned for many receipts in one
// transaction (one durable write): errs[i] is receipt i's outcome. If the
// transaction itself fails, every receipt gets that error.
func (l *Ledger) RecordCountersignedAll(list []SignedReceipt) (errs []error) {
	errs = make([]error, len(list))
	rs := make([]Receipt, len(list))
	for i, s := range list {
		rs[i], errs[i] = l.checkCountersigned(s)
	}
	l.batch("recording receipts", errs, func(tx *sql.Tx, i int) error {
		return recordCountersigned(tx, rs[i], list[i])
	})
	return errs
}

// batch runs f in one transaction, under l.mu, for every receipt i whose
// errs[i] is still nil, and records its outcome there. If the transaction
// itself fails, every receipt gets that error.
func (l *Ledger) batch(what string, errs []error, f func(tx *sql.Tx, i int) error) {
	fail := func(err error) {
		for i := range errs {
			errs[i] = cmp.Or(errs[i], fmt.Errorf("%s: %w", what, err))
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	tx, err := l.db.Begin()
	if err != nil {
		fail(err)
		return
	}
	defer tx.Rollback()
	for i := range errs {
		if errs[i] == nil {
			errs[i] = f(tx, i)
		}
	}
	if err := tx.Commit(); err != nil {
		fail(err)
	}
}

// checkCountersigned verifies a receipt's countersignature and that this
// node issued it. Its own signature is checked against the one it stored
// when it issued the receipt (recordCountersigned): a byte comparison, not
// a second verification of its own key's work.
func (l *Ledger) checkCountersigned(s SignedReceipt) (Receipt, error) {
	r, err := UnmarshalReceipt(s.Receipt)
	if err != nil {
		return r, err
	}
	if !s.Countersigned() {
		return r, fmt.Errorf("recording receipt %d for %s: %w", r.Seq, r.Volunteer, ErrNotCountersigned)
	}
	if r.Publisher != l.self {
		return r, fmt.Errorf("recording receipt from %s: %w as publisher", r.Publisher, ErrNotParty)
	}
	if err := verifySig(r.Volunteer, countersignMessage(s.Receipt, s.Signature), s.Countersig); err != nil {
		return Receipt{}, fmt.Errorf("receipt %d of %s from %s: countersignature: %w", r.Seq, r.Volunteer, r.Publisher, err)
	}
	return r, nil
}

// recordCountersigned stores one checked receipt's countersignature, if
// the receipt and its publisher signature are the ones this node issued.
func recordCountersigned(tx *sql.Tx, r Receipt, s SignedReceipt) error {
	var stored, sig, counter []byte
	err := tx.QueryRow(`SELECT receipt, sig, countersig FROM credits_receipts WHERE publisher = ? AND volunteer = ? AND seq = ?`,
		r.Publisher.String(), r.Volunteer.String(), int64(r.Seq)).Scan(&stored, &sig, &counter)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("recording receipt %d for %s: %w", r.Seq, r.Volunteer, ErrUnknownReceipt)
	case err != nil:
		return fmt.Errorf("recording receipt %d for %s: %w", r.Seq, r.Volunteer, err)
	case !bytes.Equal(stored, s.Receipt):
		return fmt.Errorf("recording receipt %d for %s: %w: differs from the one issued", r.Seq, r.Volunteer, ErrChainConflict)
	case !bytes.Equal(sig, s.Signature):
		return fmt.Errorf("recording receipt %d for %s: publisher signature: %w: not the one issued", r.Seq, r.Volunteer, job.ErrBadSignature)
	case counter != nil:
		return nil
	}
	if _, err := tx.Exec(`UPDATE credits_receipts SET countersig = ? WHERE publisher = ? AND volunteer = ? AND seq = ?`,
		s.Countersig, r.Publisher.String(), r.Volunteer.String(), int64(r.Seq)); err != nil {
		return fmt.Errorf("recording receipt %d for %s: %w", r.Seq, r.Volunteer, err)
	}
	return nil
}

// Accept is the volunteer's side: it verifies the publisher's signature,
// that the receipt names this node as volunteer and that it continues the
// pair's chain (see checkChain), then countersigns it with key (this node's
// identity), stores it and returns it to send back. Accepting a receipt
// already held returns the stored countersigned copy.
func (l *Ledger) Accept(s SignedReceipt, key crypto.PrivKey) (SignedReceipt, error) {
	out, errs := l.AcceptAll(key, s)
	return out[0], errs[0]
}

// AcceptAll is Accept for a publisher's receipts at once: each is checked,
// countersigned and stored (or refused) on its own, all in one
// transaction. The copies to send back are in out, in list's order.
func (l *Ledger) AcceptAll(key crypto.PrivKey, list ...SignedReceipt) (out []SignedReceipt, errs []error) {
	out, errs = make([]SignedReceipt, len(list)), make([]error, len(list))
	rs := make([]Receipt, len(list))
	for i, s := range list {
		r, err := s.verifyPublisher()
		switch {
		case err != nil:
			errs[i] = err
		case r.Volunteer != l.self:
			errs[i] = fmt.Errorf("accepting receipt for %s: %w as volunteer", r.Volunteer, ErrNotParty)
		default:
			s.Countersig = nil
			rs[i] = r
			out[i], errs[i] = s.countersignChecked(r, key)
		}
	}
	l.batch("storing receipt", errs, func(tx *sql.Tx, i int) (err error) {
		out[i], err = storeTx(tx, rs[i], out[i])
		return err
	})
	for i := range errs {
		if errs[i] != nil {
			out[i] = SignedReceipt{}
		}
	}
	return out, errs
}

// Learn stores a countersigned receipt between two other peers that this
// node was shown, so Priority can count it. Both signatures and the chain
// are checked as in Accept. Receipts naming this node are refused with
// ErrOwnReceipt: they go through Accept or RecordCountersigned.
func (l *Ledger) Learn(s SignedReceipt) error {
	r, err := s.Verify()
	if err != nil {
		return err
	}
	if !s.Countersigned() {
		return fmt.Errorf("learning receipt %d of %s from %s: %w", r.Seq, r.Volunteer, r.Publisher, ErrNotCountersigned)
	}
	if r.Publisher == l.self || r.Volunteer == l.self {
		return fmt.Errorf("learning receipt %d of %s from %s: %w", r.Seq, r.Volunteer, r.Publisher, ErrOwnReceipt)
	}
	_, err = l.store(r, s)
	return err
}

// store inserts a verified, countersigned receipt after checking it against
// the pair's chain, or returns the identical copy already held.
func (l *Ledger) store(r Receipt, s SignedReceipt) (SignedReceipt, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tx, err := l.db.Begin()
	if err != nil {
		return SignedReceipt{}, fmt.Errorf("storing receipt: %w", err)
	}
	defer tx.Rollback()
	if s, err = storeTx(tx, r, s); err != nil {
		return SignedReceipt{}, err
	}
	if err := tx.Commit(); err != nil {
		return SignedReceipt{}, fmt.Errorf("storing receipt: %w", err)
	}
	return s, nil
}

// storeTx is store's work within tx. It writes nothing when it fails.
func storeTx(tx *sql.Tx, r Receipt, s SignedReceipt) (SignedReceipt, error) {
	held, err := heldCopy(tx, r, s)
	if err != nil || held != nil {
		if held != nil {
			return *held, nil
		}
		return SignedReceipt{}, err
	}
	if err := checkChain(tx, r); err != nil {
		return SignedReceipt{}, err
	}
	if err := insert(tx, r, s); err != nil {
		return SignedReceipt{}, fmt.Errorf("storing receipt: %w", err)
	}
	return s, nil
}

// heldCopy returns the stored copy of exactly r, nil when the pair holds no
// receipt with r's Seq or task, and ErrChainConflict when it holds a
// different one.
func heldCopy(tx *sql.Tx, r Receipt, s SignedReceipt) (*SignedReceipt, error) {
	rows, err := tx.Query(`SELECT receipt, sig, countersig FROM credits_receipts
		WHERE publisher = ? AND volunteer = ? AND (seq = ? OR task = ?)`,
		r.Publisher.String(), r.Volunteer.String(), int64(r.Seq), r.Task.String())
	if err != nil {
		return nil, fmt.Errorf("storing receipt: %w", err)
	}
	defer rows.Close()
	var found *SignedReceipt
	for rows.Next() {
		var h SignedReceipt
		if err := rows.Scan(&h.Receipt, &h.Signature, &h.Countersig); err != nil {
			return nil, fmt.Errorf("storing receipt: %w", err)
		}
		if !bytes.Equal(h.Receipt, s.Receipt) || h.Countersig == nil {
			return nil, fmt.Errorf("receipt %d of %s from %s (task %s): %w: another receipt holds its seq or task",
				r.Seq, r.Volunteer, r.Publisher, r.Task, ErrChainConflict)
		}
		found = &h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storing receipt: %w", err)
	}
	return found, nil
}

// checkChain enforces that Totals never go back: with the nearest held
// receipts before (prev) and after (next) r in Seq order (a virtual receipt
// 0 with Total 0 when none is before), r.Total ≥ prev.Total + r.CU and
// next.Total ≥ r.Total + next.CU, with equality when the Seqs are adjacent.
// Gaps are allowed: a lost receipt loses nothing, as later Totals cover it.
func checkChain(tx *sql.Tx, r Receipt) error {
	pub, vol := r.Publisher.String(), r.Volunteer.String()
	var prevSeq, prevTotal int64
	err := tx.QueryRow(`SELECT seq, total FROM credits_receipts WHERE publisher = ? AND volunteer = ? AND seq < ?
		ORDER BY seq DESC LIMIT 1`, pub, vol, int64(r.Seq)).Scan(&prevSeq, &prevTotal)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("checking receipt chain: %w", err)
	}
	if !follows(prevSeq, prevTotal, int64(r.Seq), r.CU, r.Total) {
		return fmt.Errorf("receipt %d of %s from %s: %w: total %d after receipt %d with total %d",
			r.Seq, r.Volunteer, r.Publisher, ErrChainConflict, r.Total, prevSeq, prevTotal)
	}
	var nextSeq, nextCU, nextTotal int64
	err = tx.QueryRow(`SELECT seq, cu, total FROM credits_receipts WHERE publisher = ? AND volunteer = ? AND seq > ?
		ORDER BY seq LIMIT 1`, pub, vol, int64(r.Seq)).Scan(&nextSeq, &nextCU, &nextTotal)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("checking receipt chain: %w", err)
	case !follows(int64(r.Seq), r.Total, nextSeq, nextCU, nextTotal):
		return fmt.Errorf("receipt %d of %s from %s: %w: total %d before receipt %d with total %d",
			r.Seq, r.Volunteer, r.Publisher, ErrChainConflict, r.Total, nextSeq, nextTotal)
	}
	return nil
}

// follows reports whether a receipt (seq, cu, total) may come after one with
// (prevSeq, prevTotal) in the same chain.
func follows(prevSeq, prevTotal, seq, cu, total int64) bool {
	if seq == prevSeq+1 {
		return total == prevTotal+cu
	}
	return total >= prevTotal+cu
}

func insert(tx *sql.Tx, r Receipt, s SignedReceipt) error {
	var counter any // NULL while pending
	if s.Countersigned() {
		counter = s.Countersig
	}
	_, err := tx.Exec(`INSERT INTO credits_receipts
		(publisher, volunteer, seq, task, result, cu, total, issued, receipt, sig, countersig)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Publisher.String(), r.Volunteer.String(), int64(r.Seq), r.Task.String(), r.Result.String(),
		r.CU, r.Total, r.Issued, s.Receipt, s.Signature, counter)
	return err
}

// Payment is one receipt to issue: cu milli-CU to volunteer for its
// accepted result of task.
type Payment struct {
	Volunteer peer.ID
	Task      job.Task
	Result    cid.Cid
	CU        int64
}

// IssueAll issues a receipt for each payment, as Issue does, in one
// transaction: one sync of the database for all of them. A payment whose
// receipt was already issued is skipped (its error in errs is
// ErrAlreadyIssued, nil for the others); any other failure issues none of
// them and is returned as err.
func (l *Ledger) IssueAll(now time.Time, key crypto.PrivKey, pays []Payment) (errs []error, err error) {
	if err := checkKey(key, l.self); err != nil {
		return nil, fmt.Errorf("issuing receipts: %w", err)
	}
	for _, p := range pays {
		if p.CU < 0 || p.CU > MaxMilliCU {
			return nil, fmt.Errorf("issuing receipt: %w: cu %d", ErrInvalidReceipt, p.CU)
		}
	}
	errs = make([]error, len(pays))
	if len(pays) == 0 {
		return errs, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	tx, err := l.db.Begin()
	if err != nil {
		return nil, fmt.Errorf("issuing receipts: %w", err)
	}
	defer tx.Rollback()
	for i, p := range pays {
		_, err := issueTx(tx, now, key, l.self, p.Volunteer, p.Task, p.Result, p.CU)
		switch {
		case errors.Is(err, ErrAlreadyIssued):
			errs[i] = err
		case err != nil:
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("issuing receipts: %w", err)
	}
	return errs, nil
}
