package netns

import (
	"math/rand/v2"
	"os"
	"sync"
	"time"
)

// lossyLink carries IP packets between two TUN devices (a site's "wan" and
// the internet router's interface toward it) in the test process, delaying
// each by a fixed time and dropping a share of them, in each direction: what
// netem does, done in user space because not every kernel has sch_netem
// (this project's build machine has none). Packets keep their order, as on
// one link; a full queue drops, as a router's would.
type lossyLink struct {
	mu    sync.Mutex
	delay time.Duration
	loss  float64 // probability of dropping a packet, per direction

	ends [2]*os.File
	wg   sync.WaitGroup
}

func newLossyLink(a, b *os.File) *lossyLink {
	l := &lossyLink{ends: [2]*os.File{a, b}}
	l.wg.Go(func() { l.pump(a, b) })
	l.wg.Go(func() { l.pump(b, a) })
	return l
}

// set changes the delay and loss of both directions.
func (l *lossyLink) set(delay time.Duration, loss float64) {
	l.mu.Lock()
	l.delay, l.loss = delay, loss
	l.mu.Unlock()
}

type delayed struct {
	pkt []byte
	at  time.Time
}

// pump reads packets from one end and writes them to the other when due.
func (l *lossyLink) pump(from, to *os.File) {
	queue := make(chan delayed, 4096)
	var wg sync.WaitGroup
	wg.Go(func() {
		for d := range queue {
			time.Sleep(time.Until(d.at))
			to.Write(d.pkt) // a closed link drops
		}
	})
	defer wg.Wait()
	defer close(queue)
	buf := make([]byte, 65536)
	for {
		n, err := from.Read(buf)
		if err != nil {
			return
		}
		l.mu.Lock()
		delay, loss := l.delay, l.loss
		l.mu.Unlock()
		if loss > 0 && rand.Float64() < loss {
			continue
		}
		select {
		case queue <- delayed{pkt: append([]byte(nil), buf[:n]...), at: time.Now().Add(delay)}:
		default:
		}
	}
}

// close stops the link; its devices go away.
func (l *lossyLink) close() {
	for _, f := range l.ends {
		f.Close()
	}
	l.wg.Wait()
}
