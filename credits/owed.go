package credits

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Owe records that this node delivered a result to publisher at now: it is
// owed a receipt, and asks for it (Owed), after a restart too.
func (l *Ledger) Owe(publisher peer.ID, now time.Time) error {
	_, err := l.db.Exec(`INSERT INTO credits_owed (publisher, last) VALUES (?, ?)
		ON CONFLICT (publisher) DO UPDATE SET last = max(last, excluded.last)`, publisher.String(), now.Unix())
	if err != nil {
		return fmt.Errorf("recording delivery to %s: %w", publisher, err)
	}
	return nil
}

// Owed returns the publishers delivered to since since, and forgets the
// others.
func (l *Ledger) Owed(since time.Time) ([]peer.ID, error) {
	if _, err := l.db.Exec(`DELETE FROM credits_owed WHERE last < ?`, since.Unix()); err != nil {
		return nil, fmt.Errorf("listing publishers owing receipts: %w", err)
	}
	rows, err := l.db.Query(`SELECT publisher FROM credits_owed ORDER BY publisher`)
	if err != nil {
		return nil, fmt.Errorf("listing publishers owing receipts: %w", err)
	}
	defer rows.Close()
	var out []peer.ID
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("listing publishers owing receipts: %w", err)
		}
		p, err := peer.Decode(s)
		if err != nil {
			return nil, fmt.Errorf("listing publishers owing receipts: stored peer %q: %w", s, err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
