package publisher

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/internal/db"
	"github.com/renderswarm/renderswarm/job"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationKey is the job store's component in schema_migrations: "node",
// where the table was first created, so existing homes do not run its
// migrations again (package doc).
const migrationKey = "node"

// jobStore persists the jobs this node publishes (their coordinators a
// task at a time, through a group-commit writer), what their volunteers
// claimed, and which volunteers keep meeting.
type jobStore struct {
	d *sql.DB
	w *writer
}

func openJobStore(ctx context.Context, d *sql.DB) (*jobStore, error) {
	if err := db.Migrate(ctx, d, migrationKey, migrations, "migrations"); err != nil {
		return nil, err
	}
	return &jobStore{d: d, w: newWriter(d)}, nil
}

type storedJob struct {
	ID     string
	Signed []byte
	Header []byte // the coordinator's header, or a whole snapshot of an older version
	Rows   map[int][]byte
	Points map[peer.ID]int // failure points, by peer
	Price  int64
}

func (s *jobStore) insert(id string, signed, snapshot []byte, price int64, now time.Time) error {
	_, err := s.d.Exec(`INSERT INTO published_jobs (id, signed, snapshot, price, created, updated) VALUES (?, ?, ?, ?, ?, ?)`,
		id, signed, snapshot, price, now.Unix(), now.Unix())
	if err != nil {
		return fmt.Errorf("saving job %s: %w", id, err)
	}
	return nil
}

func (s *jobStore) all() ([]storedJob, error) {
	rows, err := s.d.Query(`SELECT id, signed, snapshot, price FROM published_jobs ORDER BY created`)
	if err != nil {
		return nil, fmt.Errorf("loading jobs: %w", err)
	}
	defer rows.Close()
	var out []storedJob
	for rows.Next() {
		j := storedJob{Rows: map[int][]byte{}, Points: map[peer.ID]int{}}
		if err := rows.Scan(&j.ID, &j.Signed, &j.Header, &j.Price); err != nil {
			return nil, fmt.Errorf("loading jobs: %w", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("loading jobs: %w", err)
	}
	rows.Close()
	byID := make(map[string]*storedJob, len(out))
	for i := range out {
		byID[out[i].ID] = &out[i]
	}
	tasks, err := s.d.Query(`SELECT job, idx, state FROM published_tasks`)
	if err != nil {
		return nil, fmt.Errorf("loading jobs: %w", err)
	}
	defer tasks.Close()
	for tasks.Next() {
		var id string
		var i int
		var state []byte
		if err := tasks.Scan(&id, &i, &state); err != nil {
			return nil, fmt.Errorf("loading jobs: %w", err)
		}
		if j := byID[id]; j != nil {
			j.Rows[i] = state
		}
	}
	if err := tasks.Err(); err != nil {
		return nil, fmt.Errorf("loading jobs: %w", err)
	}
	tasks.Close()
	points, err := s.d.Query(`SELECT job, peer, points FROM published_points`)
	if err != nil {
		return nil, fmt.Errorf("loading jobs: %w", err)
	}
	defer points.Close()
	for points.Next() {
		var id, ps string
		var n int
		if err := points.Scan(&id, &ps, &n); err != nil {
			return nil, fmt.Errorf("loading jobs: %w", err)
		}
		p, err := peer.Decode(ps)
		if err != nil {
			return nil, fmt.Errorf("loading the failure points of job %s: %w", id, err)
		}
		if j := byID[id]; j != nil {
			j.Points[p] = n
		}
	}
	if err := points.Err(); err != nil {
		return nil, fmt.Errorf("loading jobs: %w", err)
	}
	return out, nil
}

// setPrice records a job's price.
func (s *jobStore) setPrice(id string, price int64) error {
	if _, err := s.d.Exec(`UPDATE published_jobs SET price = ? WHERE id = ?`, price, id); err != nil {
		return fmt.Errorf("saving price of %s: %w", id, err)
	}
	return nil
}

// claims returns a job's claims by task and peer.
func (s *jobStore) claims(jobID string) (map[job.Task]map[peer.ID]int64, error) {
	rows, err := s.d.Query(`SELECT task, peer, cu FROM published_claims WHERE job = ?`, jobID)
	if err != nil {
		return nil, fmt.Errorf("loading claims of %s: %w", jobID, err)
	}
	defer rows.Close()
	out := map[job.Task]map[peer.ID]int64{}
	for rows.Next() {
		var ts, ps string
		var cu int64
		if err := rows.Scan(&ts, &ps, &cu); err != nil {
			return nil, fmt.Errorf("loading claims of %s: %w", jobID, err)
		}
		t, err := job.ParseTask(ts)
		if err != nil {
			return nil, fmt.Errorf("loading claims of %s: %w", jobID, err)
		}
		p, err := peer.Decode(ps)
		if err != nil {
			return nil, fmt.Errorf("loading claims of %s: %w", jobID, err)
		}
		if out[t] == nil {
			out[t] = map[peer.ID]int64{}
		}
		out[t][p] = cu
	}
	return out, rows.Err()
}

// meetings of the peers that decided a task together, as rows to write
// with the job's next change.
func meetings(peers []peer.ID) []claimRow {
	var rows []claimRow
	for i, a := range peers {
		for _, b := range peers[i+1:] {
			x, y := a.String(), b.String()
			if y < x {
				x, y = y, x
			}
			if x != y {
				rows = append(rows, claimRow{a: x, b: y})
			}
		}
	}
	return rows
}

// pairs counts how often two peers decided a task together: read from the
// store the first time a pair is asked about, then kept in memory. The
// store's copy is written with the job's change that accepts the task.
type pairs struct {
	store *jobStore

	mu sync.Mutex
	n  map[[2]string]int
}

// meet counts a meeting of every pair among peers and returns the most
// meetings any of them had before.
func (ps *pairs) meet(peers []peer.ID) int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	most := 0
	for _, r := range meetings(peers) {
		k := [2]string{r.a, r.b}
		n, ok := ps.n[k]
		if !ok {
			var err error
			if n, err = ps.store.meetings(r.a, r.b); err != nil {
				n = pairMeetings // unknown: check
			}
		}
		most = max(most, n)
		ps.n[k] = n + 1
	}
	return most
}

// meetings returns how often the pair (a, b), a < b, decided a task
// together, by the store.
func (s *jobStore) meetings(a, b string) (int, error) {
	var n int
	err := s.d.QueryRow(`SELECT met FROM published_pairs WHERE a = ? AND b = ?`, a, b).Scan(&n)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return n, err
}
