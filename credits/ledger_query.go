package credits

import (
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/job"
)

// Balance is a node's account in milli-CU.
type Balance struct {
	// Earned sums, over the publishers this node rendered for, the Total of
	// the latest receipt it holds from each: a lost receipt costs nothing
	// once a later one arrives.
	Earned int64
	// Spent sums, over the volunteers this node issued receipts to, the
	// Total of its latest receipt to each, countersigned or not: the
	// publisher signed the debt when it issued the receipt, and the
	// volunteer can prove it whether or not the countersignature came back.
	Spent int64
	// Balance is Earned − Spent.
	Balance int64
}

// Balance returns this node's account.
func (l *Ledger) Balance() (Balance, error) {
	var b Balance
	if err := l.db.QueryRow(latestTotals("volunteer", "publisher"), l.self.String()).Scan(&b.Earned); err != nil {
		return Balance{}, fmt.Errorf("reading balance: %w", err)
	}
	if err := l.db.QueryRow(latestTotals("publisher", "volunteer"), l.self.String()).Scan(&b.Spent); err != nil {
		return Balance{}, fmt.Errorf("reading balance: %w", err)
	}
	b.Balance = b.Earned - b.Spent
	return b, nil
}

// latestTotals is the query summing, over the pairs whose column self is
// the node (?1), the Total of each pair's latest receipt: Totals never go
// back along a chain (checkChain), so the latest is the largest. It walks
// the index from one counterpart to the next (the primary key for a
// publisher, credits_receipts_earned for a volunteer) instead of reading
// every receipt: two index lookups per counterpart.
func latestTotals(self, other string) string {
	return fmt.Sprintf(`WITH RECURSIVE pair(peer) AS (
		SELECT (SELECT min(%[2]s) FROM credits_receipts WHERE %[1]s = ?1)
		UNION ALL
		SELECT (SELECT min(%[2]s) FROM credits_receipts WHERE %[1]s = ?1 AND %[2]s > peer) FROM pair WHERE peer IS NOT NULL
	)
	SELECT coalesce(sum((SELECT total FROM credits_receipts WHERE %[1]s = ?1 AND %[2]s = peer ORDER BY seq DESC LIMIT 1)), 0)
	FROM pair WHERE peer IS NOT NULL`, self, other)
}

// Role is this node's part in a receipt.
type Role string

// Roles.
const (
	RoleVolunteer Role = "volunteer" // this node rendered and earned
	RolePublisher Role = "publisher" // this node published and spent
)

// Entry is one receipt as this node sees it, for lists and earnings plots.
type Entry struct {
	Role          Role
	Counterpart   peer.ID // the other party
	Seq           uint64
	Task          job.Task
	Result        cid.Cid
	CU            int64 // milli-CU of this receipt
	Total         int64 // the pair's running milli-CU total
	Issued        time.Time
	Countersigned bool
}

// Receipts returns up to limit receipts naming this node, newest first
// (by Issued, then by insertion). limit ≤ 0 means all.
func (l *Ledger) Receipts(limit int) ([]Entry, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := l.db.Query(`SELECT receipt, countersig IS NOT NULL FROM credits_receipts
		WHERE publisher = ? OR volunteer = ? ORDER BY issued DESC, rowid DESC LIMIT ?`,
		l.self.String(), l.self.String(), limit)
	if err != nil {
		return nil, fmt.Errorf("listing receipts: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var b []byte
		var counter bool
		if err := rows.Scan(&b, &counter); err != nil {
			return nil, fmt.Errorf("listing receipts: %w", err)
		}
		r, err := UnmarshalReceipt(b)
		if err != nil {
			return nil, fmt.Errorf("listing receipts: stored %w", err)
		}
		e := Entry{Role: RoleVolunteer, Counterpart: r.Publisher, Seq: r.Seq, Task: r.Task, Result: r.Result,
			CU: r.CU, Total: r.Total, Issued: time.Unix(r.Issued, 0).UTC(), Countersigned: counter}
		if r.Publisher == l.self {
			e.Role, e.Counterpart = RolePublisher, r.Volunteer
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing receipts: %w", err)
	}
	return out, nil
}

// Latest returns the latest receipt of every pair the ledger holds, in no
// particular order: countersigned ones, plus those this node issued and that
// await a countersignature (its own signature is evidence enough for
// itself). It is the input to Priority.
func (l *Ledger) Latest() ([]Receipt, error) {
	rows, err := l.db.Query(`SELECT r.receipt FROM credits_receipts r
		WHERE r.seq = (SELECT max(seq) FROM credits_receipts x
			WHERE x.publisher = r.publisher AND x.volunteer = r.volunteer
			AND (x.countersig IS NOT NULL OR x.publisher = ?))`, l.self.String())
	if err != nil {
		return nil, fmt.Errorf("listing latest receipts: %w", err)
	}
	defer rows.Close()
	var out []Receipt
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("listing latest receipts: %w", err)
		}
		r, err := UnmarshalReceipt(b)
		if err != nil {
			return nil, fmt.Errorf("listing latest receipts: stored %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing latest receipts: %w", err)
	}
	return out, nil
}

// Priority computes this node's priorities from the receipts it holds (see
// Priority).
func (l *Ledger) Priority() (Priorities, error) {
	rs, err := l.Latest()
	if err != nil {
		return Priorities{}, err
	}
	return Priority(l.self, rs), nil
}
