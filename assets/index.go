package assets

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/renderswarm/renderswarm/job"
)

// The SQLite index of complete assets (table assets, migrations/).

type row struct {
	Info
	ih        metainfo.Hash
	infoBytes []byte
	lastUsed  time.Time
	kind      kind
}

// kind is what a row stores.
type kind int

const (
	kindPlain   kind = 0 // a torrent stored whole (made by Add, or fetched)
	kindListing kind = 1 // a listing: its files are links to units' files
	kindUnit    kind = 2 // a file torrent or a pack, part of listings
)

const rowCols = `infohash, name, size, files, pinned, added, last_used, info, kind`

func scanRow(sc interface{ Scan(...any) error }) (row, error) {
	var r row
	var ih []byte
	var added, used int64
	if err := sc.Scan(&ih, &r.Name, &r.Size, &r.Files, &r.Pinned, &added, &used, &r.infoBytes, &r.kind); err != nil {
		return r, err
	}
	if len(ih) != len(r.ih) {
		return r, fmt.Errorf("corrupt index: infohash of %d bytes", len(ih))
	}
	copy(r.ih[:], ih)
	r.CID = job.AssetCID(r.ih)
	r.Complete = true
	r.Added = time.UnixMilli(added)
	r.lastUsed = time.UnixMilli(used)
	r.Listing = r.kind == kindListing
	return r, nil
}

func (s *Store) row(ih metainfo.Hash) (row, error) {
	r, err := scanRow(s.cfg.DB.QueryRow(`SELECT `+rowCols+` FROM assets WHERE infohash = ?`, ih[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("reading asset index: %w", err)
	}
	return r, nil
}

// indexed reports whether the asset is in the index, without reading its
// row: Path is asked for the scene of every task and every crop check,
// and reading the row copied the scene's info (20 bytes a piece) each time.
func (s *Store) indexed(ih metainfo.Hash) error {
	var one int
	err := s.cfg.DB.QueryRow(`SELECT 1 FROM assets WHERE infohash = ?`, ih[:]).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("reading asset index: %w", err)
	}
	return nil
}

// allRows returns every complete asset, least recently used first.
func (s *Store) allRows() ([]row, error) {
	rs, err := s.cfg.DB.Query(`SELECT ` + rowCols + ` FROM assets ORDER BY last_used, infohash`)
	if err != nil {
		return nil, fmt.Errorf("reading asset index: %w", err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		r, err := scanRow(rs)
		if err != nil {
			return nil, fmt.Errorf("reading asset index: %w", err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("reading asset index: %w", err)
	}
	return out, nil
}

// rows lists the assets a user sees: not the units inside listings.
func (s *Store) rows() ([]Info, error) {
	rs, err := s.allRows()
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(rs))
	for _, r := range rs {
		if r.kind != kindUnit {
			out = append(out, r.Info)
		}
	}
	return out, nil
}

// insertRow records a complete asset; if it is already there, pinning is
// only ever raised and its last use refreshed.
func (s *Store) insertRow(ih metainfo.Hash, info *metainfo.Info, infoBytes []byte, pinned bool, k kind) error {
	now := time.Now().UnixMilli()
	_, err := s.cfg.DB.Exec(`INSERT INTO assets (`+rowCols+`) VALUES (?, ?, ?, ?, ?, ?, `+nextUse+`, ?, ?)
		ON CONFLICT (infohash) DO UPDATE SET pinned = max(pinned, excluded.pinned), last_used = excluded.last_used`,
		ih[:], info.BestName(), info.TotalLength(), len(info.UpvertedFiles()), pinned, now, now, infoBytes, k)
	if err != nil {
		return fmt.Errorf("recording asset %s: %w", job.AssetCID(ih), err)
	}
	return nil
}

// nextUse is the last_used value of a use now: the clock in milliseconds,
// but always after every recorded use, so LRU order is strict.
const nextUse = `max(?, (SELECT coalesce(max(last_used), 0) + 1 FROM assets))`

// touchEvery: a use within this long of the last one recorded is not
// written again. Least-recently-used order is kept to the minute, without
// a durable write for every use (a publisher renders from its scene for
// every check, a volunteer for every task).
const touchEvery = time.Minute

// touch records a use, for least-recently-used collection: of the asset
// and, for a listing, of the units it uses.
func (s *Store) touch(ih metainfo.Hash) {
	now := time.Now()
	s.touchMu.Lock()
	if last, ok := s.touched[ih]; ok && now.Sub(last) < touchEvery {
		s.touchMu.Unlock()
		return
	}
	if s.touched == nil || len(s.touched) >= 4096 {
		s.touched = map[metainfo.Hash]time.Time{}
	}
	s.touched[ih] = now
	s.touchMu.Unlock()
	if _, err := s.cfg.DB.Exec(`UPDATE assets SET last_used = `+nextUse+`
		WHERE infohash = ? OR infohash IN (SELECT unit FROM asset_refs WHERE listing = ?)`,
		time.Now().UnixMilli(), ih[:], ih[:]); err != nil {
		s.log.Warn("assetUseNotRecorded", "cid", job.AssetCID(ih), "err", err)
	}
}

func (s *Store) deleteRow(ih metainfo.Hash) error {
	err := s.inTx(func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM assets WHERE infohash = ?`, `DELETE FROM contents WHERE unit = ?`,
			`DELETE FROM asset_refs WHERE listing = ?`} {
			if _, err := tx.Exec(q, ih[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("removing asset %s from the index: %w", job.AssetCID(ih), err)
	}
	return nil
}

// inTx runs f in a transaction.
func (s *Store) inTx(f func(*sql.Tx) error) error {
	tx, err := s.cfg.DB.Begin()
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
