package collection

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// The SQLite tables (migrations/): records seen, collections followed.

// store records r. A record already stored is a no-op (stored false); a
// different listing for a stored version is ErrConflict. With news (a
// record announced as new: gossip, import, publish) the version must be
// after the newest stored; history (answers to a versions request) may
// fill in older versions.
func (s *Service) store(r Record, news bool) (stored bool, err error) {
	s.mu.Lock() // one writer: check and insert together
	defer s.mu.Unlock()
	var listing string
	err = s.cfg.DB.QueryRow(`SELECT listing FROM collection_records WHERE owner = ? AND name = ? AND version = ?`,
		r.Owner.String(), r.Name, r.Version).Scan(&listing)
	switch {
	case err == nil && listing == r.Listing.String():
		return false, nil
	case err == nil:
		return false, fmt.Errorf("%w: %s is %s here", ErrConflict, r.Ref(), listing)
	case !errors.Is(err, sql.ErrNoRows):
		return false, fmt.Errorf("reading collection records: %w", err)
	}
	if news {
		head, err := s.head(r.Owner, r.Name)
		if err != nil && !errors.Is(err, ErrUnknown) {
			return false, err
		}
		if err == nil && r.Version <= head.Version {
			return false, fmt.Errorf("%w: %s/%s version %d is not after version %d", ErrBackwards, r.Owner, r.Name, r.Version, head.Version)
		}
	}
	data, err := r.Marshal()
	if err != nil {
		return false, err
	}
	if _, err := s.cfg.DB.Exec(`INSERT INTO collection_records (owner, name, version, listing, created, record, seen)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, r.Owner.String(), r.Name, r.Version, r.Listing.String(), r.Created, data,
		time.Now().UnixMilli()); err != nil {
		return false, fmt.Errorf("storing collection record: %w", err)
	}
	return true, nil
}

// head is the newest stored version of a collection.
func (s *Service) head(owner peer.ID, name string) (Record, error) {
	return s.one(`SELECT record FROM collection_records WHERE owner = ? AND name = ? ORDER BY version DESC LIMIT 1`,
		owner.String(), name)
}

// version is one stored version.
func (s *Service) version(ref Ref) (Record, error) {
	return s.one(`SELECT record FROM collection_records WHERE owner = ? AND name = ? AND version = ?`,
		ref.Owner.String(), ref.Name, ref.Version)
}

func (s *Service) one(q string, args ...any) (Record, error) {
	var data []byte
	err := s.cfg.DB.QueryRow(q, args...).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, ErrUnknown
	}
	if err != nil {
		return Record{}, fmt.Errorf("reading collection records: %w", err)
	}
	return Decode(data)
}

// stored lists a collection's stored versions, newest first, at most limit.
func (s *Service) stored(owner peer.ID, name string, limit int) ([]Record, error) {
	rs, err := s.cfg.DB.Query(`SELECT record FROM collection_records WHERE owner = ? AND name = ?
		ORDER BY version DESC LIMIT ?`, owner.String(), name, limit)
	if err != nil {
		return nil, fmt.Errorf("reading collection records: %w", err)
	}
	defer rs.Close()
	var out []Record
	for rs.Next() {
		var data []byte
		if err := rs.Scan(&data); err != nil {
			return nil, err
		}
		r, err := Decode(data)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

// Summary is one collection this node knows.
type Summary struct {
	Owner    string `json:"owner"`
	Name     string `json:"name"`
	Head     uint64 `json:"head"`    // newest version known
	Listing  string `json:"listing"` // its listing CID
	Created  int64  `json:"created"`
	Mine     bool   `json:"mine"`
	Followed bool   `json:"followed"`
	Fetched  uint64 `json:"fetched,omitempty"` // newest version fetched by following
}

// List returns every collection this node knows, its own first.
func (s *Service) List() ([]Summary, error) {
	rs, err := s.cfg.DB.Query(`SELECT r.owner, r.name, r.version, r.listing, r.created, f.owner IS NOT NULL, coalesce(f.fetched, 0)
		FROM collection_records r LEFT JOIN collection_follows f ON f.owner = r.owner AND f.name = r.name
		WHERE r.version = (SELECT max(version) FROM collection_records x WHERE x.owner = r.owner AND x.name = r.name)
		UNION ALL
		SELECT f.owner, f.name, 0, '', 0, 1, f.fetched FROM collection_follows f
		WHERE NOT EXISTS (SELECT 1 FROM collection_records x WHERE x.owner = f.owner AND x.name = f.name)`)
	if err != nil {
		return nil, fmt.Errorf("listing collections: %w", err)
	}
	defer rs.Close()
	var mine, others []Summary
	self := s.self.String()
	for rs.Next() {
		var c Summary
		if err := rs.Scan(&c.Owner, &c.Name, &c.Head, &c.Listing, &c.Created, &c.Followed, &c.Fetched); err != nil {
			return nil, err
		}
		c.Mine = c.Owner == self
		if c.Mine {
			mine = append(mine, c)
		} else {
			others = append(others, c)
		}
	}
	return append(mine, others...), rs.Err()
}

// follows lists the followed collections.
func (s *Service) follows() ([]Ref, map[Ref]uint64, error) {
	rs, err := s.cfg.DB.Query(`SELECT owner, name, fetched FROM collection_follows`)
	if err != nil {
		return nil, nil, fmt.Errorf("reading follows: %w", err)
	}
	defer rs.Close()
	var out []Ref
	fetched := map[Ref]uint64{}
	for rs.Next() {
		var o, n string
		var f uint64
		if err := rs.Scan(&o, &n, &f); err != nil {
			return nil, nil, err
		}
		id, err := peer.Decode(o)
		if err != nil {
			continue
		}
		r := Ref{Owner: id, Name: n}
		out = append(out, r)
		fetched[r] = f
	}
	return out, fetched, rs.Err()
}
