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
	JobIDs     []string  // the jobs (their IDs as text), in no order
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
		SELECT r.volunteer, coalesce(last.at, 0), substr(r.task, 1, instr(r.task, '/') - 1), count(*)
			FROM credits_receipts r LEFT JOIN last ON last.volunteer = r.volunteer
			WHERE r.publisher = ? AND r.issued > coalesce(last.at, 0)
			GROUP BY r.volunteer, 3
		UNION ALL SELECT volunteer, at, '', 0 FROM last`,
		l.self.String())
	if err != nil {
		return nil, fmt.Errorf("reading standings: %w", err)
	}
	defer rows.Close()
	out := map[peer.ID]Record{}
	for rows.Next() {
		var id, jobID string
		var at, n int64
		if err := rows.Scan(&id, &at, &jobID, &n); err != nil {
			return nil, fmt.Errorf("reading standings: %w", err)
		}
		p, err := peer.Decode(id)
		if err != nil {
			return nil, fmt.Errorf("reading standings: stored peer %q: %w", id, err)
		}
		rec := out[p]
		if at > 0 {
			rec.LastStrike = time.Unix(at, 0)
		}
		if jobID != "" {
			rec.Verified += int(n)
			rec.Jobs++
			rec.JobIDs = append(rec.JobIDs, jobID)
		}
		out[p] = rec
	}
	return out, rows.Err()
}
