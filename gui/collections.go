package gui

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Sharing is what the API needs for stock BitTorrent interop, transfer
// totals and listing diffs.
type Sharing interface {
	Stats() TransferStats
	Torrent(cid string) ([]byte, error)
	Magnet(cid string) (string, error)
	AddTorrent(ctx context.Context, torrentFile, dataDir string) (Asset, error)
	// Diff compares two listings, each a CID or OWNER/NAME@VERSION.
	Diff(ctx context.Context, a, b string) (Diff, error)
}

// Collections is what the API needs of named, versioned collections.
type Collections interface {
	List() ([]Collection, error)
	Publish(ctx context.Context, name, dir string, version uint64) (Version, error)
	Versions(ctx context.Context, ref string) ([]Version, error)
	Follow(ref string, on bool) error
	Record(ref string) ([]byte, error)
	Import(record []byte) (Version, error)
}

// TransferStats are the asset store's totals since the node started.
type TransferStats struct {
	Uploaded   int64  `json:"uploaded"`
	Downloaded int64  `json:"downloaded"`
	Seeding    int    `json:"seeding"`
	Fetching   int    `json:"fetching"`
	BTListen   string `json:"bt_listen,omitempty"` // the plain BitTorrent listener, if on
}

// Diff is what changed from one listing to another.
type Diff struct {
	From    string   `json:"from"` // listing CIDs
	To      string   `json:"to"`
	Changes []Change `json:"changes"`
	// Bytes is what fetching To costs a node holding From: the sizes of
	// the added and changed files.
	Bytes int64 `json:"bytes"`
}

// Change is one file that differs.
type Change struct {
	Path string `json:"path"`
	Kind string `json:"kind"` // added, removed, changed, mode
	Size int64  `json:"size"`
}

// Collection is one collection this node knows.
type Collection struct {
	Owner    string `json:"owner"`
	Name     string `json:"name"`
	Head     uint64 `json:"head"`
	Listing  string `json:"listing"`
	Created  int64  `json:"created"`
	Mine     bool   `json:"mine"`
	Followed bool   `json:"followed"`
	Fetched  uint64 `json:"fetched,omitempty"`
}

// Version is one signed version of a collection.
type Version struct {
	Ref     string    `json:"ref"` // OWNER/NAME@VERSION
	Owner   string    `json:"owner"`
	Name    string    `json:"name"`
	Version uint64    `json:"version"`
	Listing string    `json:"listing"`
	Created time.Time `json:"created"`
	Stored  bool      `json:"stored"` // the listing is in this node's store
}

// Requests of the collection and interop endpoints.
type (
	CIDRequest struct {
		CID string `json:"cid"`
	}
	RefRequest struct {
		Ref string `json:"ref"`
	}
	DiffRequest struct {
		A string `json:"a"`
		B string `json:"b"`
	}
	FollowRequest struct {
		Ref    string `json:"ref"`
		Follow bool   `json:"follow"`
	}
	PublishCollectionRequest struct {
		Name    string `json:"name"`
		Dir     string `json:"dir"` // absolute, on the node's machine
		Version uint64 `json:"version,omitempty"`
	}
	AddTorrentRequest struct {
		Torrent string `json:"torrent"` // .torrent file, absolute path on the node's machine
		Data    string `json:"data"`    // directory holding its files
	}
	RecordBody struct {
		Record []byte `json:"record"`
	}
	MagnetBody struct {
		Magnet string `json:"magnet"`
	}
)

func (s *Server) routeCollections() {
	s.mux.HandleFunc("GET /api/assets/stats", s.needSharing(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.cfg.Sharing.Stats())
	}))
	s.mux.HandleFunc("POST /api/assets/torrent", s.needSharing(func(w http.ResponseWriter, r *http.Request) {
		var req CIDRequest
		if decode(w, r, &req) {
			b, err := s.cfg.Sharing.Torrent(req.CID)
			answer(w, RecordBody{Record: b}, err)
		}
	}))
	s.mux.HandleFunc("POST /api/assets/magnet", s.needSharing(func(w http.ResponseWriter, r *http.Request) {
		var req CIDRequest
		if decode(w, r, &req) {
			m, err := s.cfg.Sharing.Magnet(req.CID)
			answer(w, MagnetBody{m}, err)
		}
	}))
	s.mux.HandleFunc("POST /api/assets/import", s.needSharing(func(w http.ResponseWriter, r *http.Request) {
		var req AddTorrentRequest
		if decode(w, r, &req) {
			a, err := s.cfg.Sharing.AddTorrent(r.Context(), req.Torrent, req.Data)
			answer(w, a, err)
		}
	}))
	s.mux.HandleFunc("POST /api/assets/diff", s.needSharing(func(w http.ResponseWriter, r *http.Request) {
		var req DiffRequest
		if decode(w, r, &req) {
			d, err := s.cfg.Sharing.Diff(r.Context(), req.A, req.B)
			answer(w, d, err)
		}
	}))
	s.mux.HandleFunc("GET /api/collections", s.needCollections(func(w http.ResponseWriter, r *http.Request) {
		list, err := s.cfg.Collections.List()
		if list == nil {
			list = []Collection{}
		}
		answer(w, list, err)
	}))
	s.mux.HandleFunc("POST /api/collections", s.needCollections(func(w http.ResponseWriter, r *http.Request) {
		var req PublishCollectionRequest
		if decode(w, r, &req) {
			v, err := s.cfg.Collections.Publish(r.Context(), req.Name, req.Dir, req.Version)
			answer(w, v, err)
		}
	}))
	s.mux.HandleFunc("POST /api/collections/versions", s.needCollections(func(w http.ResponseWriter, r *http.Request) {
		var req RefRequest
		if decode(w, r, &req) {
			list, err := s.cfg.Collections.Versions(r.Context(), req.Ref)
			answer(w, list, err)
		}
	}))
	s.mux.HandleFunc("POST /api/collections/follow", s.needCollections(func(w http.ResponseWriter, r *http.Request) {
		var req FollowRequest
		if decode(w, r, &req) {
			answer(w, struct{}{}, s.cfg.Collections.Follow(req.Ref, req.Follow))
		}
	}))
	s.mux.HandleFunc("POST /api/collections/record", s.needCollections(func(w http.ResponseWriter, r *http.Request) {
		var req RefRequest
		if decode(w, r, &req) {
			b, err := s.cfg.Collections.Record(req.Ref)
			answer(w, RecordBody{b}, err)
		}
	}))
	s.mux.HandleFunc("POST /api/collections/import", s.needCollections(func(w http.ResponseWriter, r *http.Request) {
		var req RecordBody
		if decode(w, r, &req) {
			v, err := s.cfg.Collections.Import(req.Record)
			answer(w, v, err)
		}
	}))
}

// answer writes v, or err as a request the node could not carry out.
func answer(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err)
		return
	}
	writeJSON(w, v)
}

var errNoCollections = errors.New("this node serves no collections")

func (s *Server) needSharing(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Sharing == nil {
			writeError(w, http.StatusNotFound, errNoCollections)
			return
		}
		h(w, r)
	}
}

func (s *Server) needCollections(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Collections == nil {
			writeError(w, http.StatusNotFound, errNoCollections)
			return
		}
		h(w, r)
	}
}

// The client side.

// TransferStats returns the asset store's transfer totals.
func (c *Client) TransferStats(ctx context.Context) (TransferStats, error) {
	var st TransferStats
	return st, c.call(ctx, "GET", "/api/assets/stats", nil, &st)
}

// Torrent returns a .torrent file for a stored asset.
func (c *Client) Torrent(ctx context.Context, cid string) ([]byte, error) {
	var b RecordBody
	return b.Record, c.call(ctx, "POST", "/api/assets/torrent", CIDRequest{cid}, &b)
}

// Magnet returns a magnet link for a stored asset.
func (c *Client) Magnet(ctx context.Context, cid string) (string, error) {
	var m MagnetBody
	return m.Magnet, c.call(ctx, "POST", "/api/assets/magnet", CIDRequest{cid}, &m)
}

// AddTorrent imports a torrent and its files.
func (c *Client) AddTorrent(ctx context.Context, req AddTorrentRequest) (Asset, error) {
	var a Asset
	return a, c.call(ctx, "POST", "/api/assets/import", req, &a)
}

// Diff compares two listings.
func (c *Client) Diff(ctx context.Context, a, b string) (Diff, error) {
	var d Diff
	return d, c.call(ctx, "POST", "/api/assets/diff", DiffRequest{a, b}, &d)
}

// Collections lists the collections the node knows.
func (c *Client) Collections(ctx context.Context) ([]Collection, error) {
	var list []Collection
	return list, c.call(ctx, "GET", "/api/collections", nil, &list)
}

// PublishCollection signs a new version of one of the node's collections.
func (c *Client) PublishCollection(ctx context.Context, req PublishCollectionRequest) (Version, error) {
	var v Version
	return v, c.call(ctx, "POST", "/api/collections", req, &v)
}

// Versions lists a collection's versions, newest first.
func (c *Client) Versions(ctx context.Context, ref string) ([]Version, error) {
	var list []Version
	return list, c.call(ctx, "POST", "/api/collections/versions", RefRequest{ref}, &list)
}

// Follow sets whether the node follows a collection.
func (c *Client) Follow(ctx context.Context, ref string, on bool) error {
	return c.call(ctx, "POST", "/api/collections/follow", FollowRequest{ref, on}, nil)
}

// CollectionRecord returns a version's signed record.
func (c *Client) CollectionRecord(ctx context.Context, ref string) ([]byte, error) {
	var b RecordBody
	return b.Record, c.call(ctx, "POST", "/api/collections/record", RefRequest{ref}, &b)
}

// ImportRecord stores a signed record given by hand.
func (c *Client) ImportRecord(ctx context.Context, record []byte) (Version, error) {
	var v Version
	return v, c.call(ctx, "POST", "/api/collections/import", RecordBody{record}, &v)
}
