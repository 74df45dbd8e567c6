package credits

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/job"
)

// Strike is what a publisher caught a volunteer doing.
type Strike string

// Strikes.
const (
	LostVote Strike = "lost-vote" // outvoted by a strict majority (2-of-3)
	Refuted  Strike = "refuted"   // its result failed the publisher's crop check
)

// Record is a volunteer's standing at this node as a publisher, since its
// latest strike: the results of it this node verified (its receipts) and
// the jobs they spanned.
type Record struct {
	Verified   int
	Jobs       int
	LastStrike time.Time // zero: never caught
}

// Strike records that volunteer was caught on task at now. Recording the
// same strike again changes nothing.
func (l *Ledger) Strike(now time.Time, volunteer peer.ID, task job.Task, kind Strike) error {
	if kind != LostVote && kind != Refuted {
		return fmt.Errorf("recording strike: unknown kind %q", kind)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.db.Exec(`INSERT INTO credits_strikes (volunteer, task, kind, at) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, volunteer.String(), task.String(), string(kind), now.Unix())
	if err != nil {
		return fmt.Errorf("recording strike of %s: %w", volunteer, err)
	}
	return nil
}

// Standings returns, for every volunteer this node issued receipts to or
// caught, its Record: only receipts issued after its latest strike count,
// so one strike sends it back to probation for every job.
func (l *Ledger) Standings() (map[peer.ID]Record, error) {
	rows, err := l.db.Query(`
		WITH last AS (SELECT volunteer, max(at) AS at FROM credits_strikes GROUP BY volunteer)
		SELECT v.volunteer, coalesce(last.at, 0),
			(SELECT count(*) FROM credits_receipts r WHERE r.publisher = ? AND r.volunteer = v.volunteer
				AND r.issued > coalesce(last.at, 0)),
			(SELECT count(DISTINCT substr(r.task, 1, instr(r.task, '/') - 1)) FROM credits_receipts r
				WHERE r.publisher = ? AND r.volunteer = v.volunteer AND r.issued > coalesce(last.at, 0))
		FROM (SELECT DISTINCT volunteer FROM credits_receipts WHERE publisher = ?
			UNION SELECT volunteer FROM credits_strikes) v
		LEFT JOIN last ON last.volunteer = v.volunteer`,
		l.self.String(), l.self.String(), l.self.String())
	if err != nil {
		return nil, fmt.Errorf("reading standings: %w", err)
	}
	defer rows.Close()
	out := map[peer.ID]Record{}
	for rows.Next() {
		var id string
		var at int64
		var rec Record
		if err := rows.Scan(&id, &at, &rec.Verified, &rec.Jobs); err != nil {
			return nil, fmt.Errorf("reading standings: %w", err)
		}
		p, err := peer.Decode(id)
		if err != nil {
			return nil, fmt.Errorf("reading standings: stored peer %q: %w", id, err)
		}
		if at > 0 {
			rec.LastStrike = time.Unix(at, 0)
		}
		out[p] = rec
	}
	return out, rows.Err()
}
