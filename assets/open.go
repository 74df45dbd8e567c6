package assets

import (
	"bufio"
	"bytes"
	"cmp"
	"net"
	"slices"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
)

// Open seeds.
//
// Every stored asset is offered (announced, and served to whoever asks),
// but only the ones in use are open in the torrent client: a torrent there
// costs about 11 KiB of memory whether or not anyone downloads it, and a
// publisher stores every accepted result (100,000 of a large job would be
// a gigabyte). The store keeps at most maxOpen of them open, dropping the
// least recently used ones that no peer is connected to; a peer's
// handshake for a stored asset that is not open opens it before the client
// reads it (warm), on the libp2p listener and the plain BitTorrent one.

// maxOpen is how many stored assets the torrent client keeps open.
const maxOpen = 1024

// btHandshakeHead is how a plain BitTorrent handshake begins; the info
// hash follows the eight reserved bytes.
var btHandshakeHead = []byte("\x13BitTorrent protocol")

const btInfoHashEnd = 20 + 8 + 20

// infoHashOf returns the info hash a plain handshake's first bytes name.
func infoHashOf(head []byte) (metainfo.Hash, bool) {
	var ih metainfo.Hash
	if len(head) < btInfoHashEnd || !bytes.HasPrefix(head, btHandshakeHead) {
		return ih, false
	}
	copy(ih[:], head[28:btInfoHashEnd])
	return ih, true
}

// warm opens a stored asset in the torrent client if it is not open, and
// marks it used.
func (s *Store) warm(ih metainfo.Hash) {
	if s.opened(ih) {
		return
	}
	s.gcMu.Lock() // not collected between the lookup and the seed
	defer s.gcMu.Unlock()
	if s.opened(ih) {
		return
	}
	r, err := s.row(ih)
	if err != nil {
		return // not stored: the client answers as for any unknown torrent
	}
	s.mu.Lock()
	cl := s.client
	s.mu.Unlock()
	if cl == nil {
		return
	}
	if err := s.seed(cl, ih, r.infoBytes); err != nil {
		s.log.Warn("assetNotSeeded", "cid", r.CID, "err", err)
	}
}

// opened reports whether the asset is open, marking it used if it is.
func (s *Store) opened(ih metainfo.Hash) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.torrents[ih]; !ok {
		return false
	}
	s.useSeq++
	s.used[ih] = s.useSeq
	return true
}

// closeIdle drops the least recently used open assets no peer is
// connected to, down to the limit, once there are a quarter more: a
// batch at a time, so that opening one asset does not sort them all.
func (s *Store) closeIdle() {
	s.mu.Lock()
	limit := s.maxOpen
	if len(s.torrents) <= limit+limit/4 {
		s.mu.Unlock()
		return
	}
	type open struct {
		ih  metainfo.Hash
		t   *torrent.Torrent
		use uint64
	}
	all := make([]open, 0, len(s.torrents))
	for ih, t := range s.torrents {
		all = append(all, open{ih, t, s.used[ih]})
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b open) int { return cmp.Compare(a.use, b.use) })
	drop := len(all) - limit
	for _, o := range all {
		if drop == 0 {
			break
		}
		if len(o.t.PeerConns()) > 0 {
			continue // serving someone: kept open
		}
		s.mu.Lock()
		if s.torrents[o.ih] == o.t && s.used[o.ih] == o.use { // not used since
			delete(s.torrents, o.ih)
			delete(s.used, o.ih)
			s.mu.Unlock()
			o.t.Drop()
			drop--
			continue
		}
		s.mu.Unlock()
	}
}

// warmConn opens the asset a peer's handshake asks for before the torrent
// client reads the handshake.
type warmConn struct {
	net.Conn
	r      *bufio.Reader
	warm   func(metainfo.Hash)
	peeked bool
}

func newWarmConn(c net.Conn, warm func(metainfo.Hash)) *warmConn {
	return &warmConn{Conn: c, r: bufio.NewReaderSize(c, 512), warm: warm}
}

func (c *warmConn) Read(p []byte) (int, error) {
	if !c.peeked {
		c.peeked = true
		// An obfuscated or short stream names no info hash: it is passed
		// on as it came (the client answers it as before).
		if head, err := c.r.Peek(btInfoHashEnd); err == nil {
			if ih, ok := infoHashOf(head); ok {
				c.warm(ih)
			}
		}
	}
	return c.r.Read(p)
}
