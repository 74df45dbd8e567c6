package assets

import (
	"math/rand/v2"

	"github.com/anacrolix/torrent"
)

// spreadBytes is how much of an asset a downloader keeps at high priority
// at a time, taken from its own random permutation of the pieces.
const spreadBytes = 4 << 20

// spreader gives each downloader its own random piece order. anacrolix
// requests by priority, then rarest first, then piece index; when many
// downloaders start at once every piece is equally rare, so they would all
// ask the seeder for the same low-index pieces and the seeder would upload
// them several times over. Raising a random window of pieces to high
// priority makes each downloader ask for different pieces, which it then
// trades with the others; rarest-first still orders within the window.
type spreader struct {
	t     *torrent.Torrent
	order []int
	next  int
	high  map[int]bool
	batch int
}

func newSpreader(t *torrent.Torrent) *spreader {
	info := t.Info()
	batch := max(8, int(spreadBytes/info.PieceLength))
	return &spreader{t: t, order: rand.Perm(info.NumPieces()), high: make(map[int]bool, batch), batch: batch}
}

// top keeps batch incomplete pieces at high priority.
func (sp *spreader) top() {
	for i := range sp.high {
		if sp.t.Piece(i).State().Complete {
			delete(sp.high, i)
		}
	}
	for len(sp.high) < sp.batch && sp.next < len(sp.order) {
		i := sp.order[sp.next]
		sp.next++
		p := sp.t.Piece(i)
		if !p.State().Complete {
			p.SetPriority(torrent.PiecePriorityHigh)
			sp.high[i] = true
		}
	}
}
