package publisher

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/renderswarm/renderswarm/internal/db"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationKey is the job store's component in schema_migrations: "node",
// where the table was first created, so existing homes do not run its
// migrations again (package doc).
const migrationKey = "node"

// jobStore persists the jobs this node publishes.
type jobStore struct{ d *sql.DB }

func openJobStore(ctx context.Context, d *sql.DB) (*jobStore, error) {
	if err := db.Migrate(ctx, d, migrationKey, migrations, "migrations"); err != nil {
		return nil, err
	}
	return &jobStore{d: d}, nil
}

type storedJob struct {
	ID       string
	Signed   []byte
	Snapshot []byte
}

func (s *jobStore) insert(id string, signed, snapshot []byte, now time.Time) error {
	_, err := s.d.Exec(`INSERT INTO published_jobs (id, signed, snapshot, created, updated) VALUES (?, ?, ?, ?, ?)`,
		id, signed, snapshot, now.Unix(), now.Unix())
	if err != nil {
		return fmt.Errorf("saving job %s: %w", id, err)
	}
	return nil
}

func (s *jobStore) save(id string, snapshot []byte, now time.Time) error {
	_, err := s.d.Exec(`UPDATE published_jobs SET snapshot = ?, updated = ? WHERE id = ?`, snapshot, now.Unix(), id)
	if err != nil {
		return fmt.Errorf("saving job %s: %w", id, err)
	}
	return nil
}

func (s *jobStore) all() ([]storedJob, error) {
	rows, err := s.d.Query(`SELECT id, signed, snapshot FROM published_jobs ORDER BY created`)
	if err != nil {
		return nil, fmt.Errorf("loading jobs: %w", err)
	}
	defer rows.Close()
	var out []storedJob
	for rows.Next() {
		var j storedJob
		if err := rows.Scan(&j.ID, &j.Signed, &j.Snapshot); err != nil {
			return nil, fmt.Errorf("loading jobs: %w", err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}
