package assets

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/anacrolix/torrent/metainfo"
)

// contentRow says where a file content lives: in unit, at path.
type contentRow struct {
	content metainfo.Hash
	unit    metainfo.Hash
	path    string
	size    int64
}

// file is where the content's file is on disk.
func (s *Store) file(c contentRow) string {
	return filepath.Join(s.dataDir(c.unit), filepath.FromSlash(c.path))
}

// locate finds, for each wanted content, a stored unit that holds it.
// Contents stored nowhere are absent from the result.
func (s *Store) locate(want []metainfo.Hash) (map[metainfo.Hash]contentRow, error) {
	out := make(map[metainfo.Hash]contentRow, len(want))
	stmt, err := s.cfg.DB.Prepare(`SELECT c.unit, c.path, c.size FROM contents c JOIN assets a ON a.infohash = c.unit
		WHERE c.content = ? LIMIT 1`)
	if err != nil {
		return nil, fmt.Errorf("reading the content index: %w", err)
	}
	defer stmt.Close()
	for _, c := range want {
		if _, ok := out[c]; ok {
			continue
		}
		var unit []byte
		r := contentRow{content: c}
		switch err := stmt.QueryRow(c[:]).Scan(&unit, &r.path, &r.size); {
		case err == nil:
			copy(r.unit[:], unit)
			out[c] = r
		case isNoRows(err):
		default:
			return nil, fmt.Errorf("reading the content index: %w", err)
		}
	}
	return out, nil
}

// refsTo counts, for every unit, the stored listings that link to it.
func (s *Store) refsTo() (map[metainfo.Hash]int, error) {
	rs, err := s.cfg.DB.Query(`SELECT unit, count(*) FROM asset_refs GROUP BY unit`)
	if err != nil {
		return nil, fmt.Errorf("reading listing references: %w", err)
	}
	defer rs.Close()
	out := map[metainfo.Hash]int{}
	for rs.Next() {
		var u []byte
		var n int
		if err := rs.Scan(&u, &n); err != nil {
			return nil, err
		}
		out[hashOf(u)] = n
	}
	return out, rs.Err()
}

// unitsOf lists the units a stored listing links to.
func (s *Store) unitsOf(listing metainfo.Hash) ([]metainfo.Hash, error) {
	rs, err := s.cfg.DB.Query(`SELECT unit FROM asset_refs WHERE listing = ?`, listing[:])
	if err != nil {
		return nil, fmt.Errorf("reading listing references: %w", err)
	}
	defer rs.Close()
	var out []metainfo.Hash
	for rs.Next() {
		var u []byte
		if err := rs.Scan(&u); err != nil {
			return nil, err
		}
		out = append(out, hashOf(u))
	}
	return out, rs.Err()
}

func hashOf(b []byte) (h metainfo.Hash) {
	copy(h[:], b)
	return h
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
