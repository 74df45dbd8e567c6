package scheduler

import (
	"encoding/binary"
	"fmt"
	"image"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Adaptive replication (package documentation): the coin flipped when a
// holder commits, and the second render it may ask for, whole or split
// in parts while peers stand idle.

// odds returns p's replication odds under adaptive replication.
func (c *Coordinator) odds(p peer.ID) float64 {
	if c.cfg.Standing == nil {
		return 1
	}
	return c.cfg.Standing(p).ReplicationOdds()
}

// adaptiveCoin decides, when the holder of r commits, whether its still
// unreplicated task gets a second replica. Flipping only after the holder
// is bound to its result means neither it nor a colluder asking for the
// same task can learn beforehand whether the task will be checked.
func (c *Coordinator) adaptiveCoin(now time.Time, r *replica) error {
	t := c.tasks[r.task]
	if c.cfg.Replicas != 1 || t.want >= 2 {
		return nil
	}
	odds := c.odds(r.Peer)
	replicate := odds >= 1
	if !replicate {
		f, err := c.coin()
		if err != nil {
			return err
		}
		replicate = f < odds
	}
	switch {
	case replicate:
		t.want, t.quorum = 2, 2
		if parts := c.split(now, t); parts != nil {
			t.parts, t.splitAt = parts, now
			t.want, t.quorum = 1+len(parts), 1+len(parts)
		}
	case c.cfg.Check != nil:
		crop := c.cfg.Check(t.t)
		if crop.Empty() {
			return nil
		}
		t.want, t.quorum, t.crop = 2, 2, crop
		c.checking[r.task] = now
	default:
		return nil
	}
	c.low = min(c.low, r.task)
	return nil
}

// coin returns a uniform float64 in [0, 1) read from the configured Rand.
func (c *Coordinator) coin() (float64, error) {
	var b [8]byte
	if _, err := io.ReadFull(c.rand, b[:]); err != nil {
		return 0, fmt.Errorf("flipping the replication coin: %w", err)
	}
	return float64(binary.BigEndian.Uint64(b[:])>>11) / (1 << 53), nil
}

// MaxParts is the most pieces a second render is cut in (Config.Split),
// when as many peers stand idle or, every task held, hold a render of the
// job: at a job's end it is the job's last
// render, and six peers render it in a sixth of the time. (Three before:
// the scale simulation's makespan gained about 1 %, within its runs'
// spread; README.)
const MaxParts = 6

// maxResults is how many results t may collect before it is given up
// (Config.MaxResults): the parts of its split second render count as one,
// the render they stand for.
func (c *Coordinator) maxResults(t *task) int {
	return c.cfg.MaxResults + max(0, len(t.parts)-1)
}

// split returns the parts (Config.Split) the second render of t is to be
// rendered in, when the job is flooded with idle peers: as many as stand
// idle, up to MaxParts; or when every task of the job is held (drained):
// as many as hold a render of another task of it, up to MaxParts. nil for
// a second replica of the whole task.
func (c *Coordinator) split(now time.Time, t *task) []image.Rectangle {
	if c.cfg.Split == nil || c.cfg.MaxResults < 3 {
		return nil
	}
	var n int
	switch {
	case c.flooded(now, 2):
		n = c.idleN // flooded counted them
	case c.drained():
		for q := range c.holding {
			if n == MaxParts {
				break
			}
			if !t.triedBy(q) {
				n++
			}
		}
	}
	if n = min(MaxParts, n); n < 2 {
		return nil
	}
	parts := c.cfg.Split(t.t, n)
	if len(parts) < 2 || len(parts) > n {
		return nil
	}
	for _, part := range parts {
		if part.Empty() {
			return nil
		}
	}
	return parts
}

// drained reports whether every open task of the job has a render out or
// delivered: the peers rendering it, as they finish, find nothing of it
// to take but checks and backups. A second render asked for then is the
// job's last work, and its parts are taken by those peers as they come
// free, each in a fraction of a render: whole, it would be a second
// render end to end after the first (the scale simulation's last two
// minutes, README).
func (c *Coordinator) drained() bool {
	c.sortWatched()
	return len(c.tasks)-c.accepted-c.failed-c.busy == 0
}

// partWait is how long the parts of a split render, and the check crop
// of a job flooded with idle peers, wait for peers at least as fast as the
// job's mean (checkToFaster).
const partWait = 20 * time.Second

// checkToFaster reports whether p, slower than the job's mean peer, is to
// leave a check replica of task i to a faster one: a part of its split
// render (the parts are cut when peers stand idle, so that the task waits
// a fraction of a render, and a slow machine's part would be most of one),
// or its check crop while the job is flooded (a slow machine's crop can
// take longer than a fast one's whole render, and at a job's end it is
// the job's last). For partWait only: the idle peers may all be slow.
func (c *Coordinator) checkToFaster(now time.Time, i int, p peer.ID) bool {
	t := c.tasks[i]
	if len(c.pace) == 0 {
		return false
	}
	if len(t.parts) == 0 {
		since, ok := c.checking[i] // since when a crop is wanted and not out
		if !ok || now.Sub(since) >= partWait || !c.flooded(now, 1) {
			return false
		}
	} else if t.splitAt.IsZero() || now.Sub(t.splitAt) >= partWait {
		return false
	}
	return c.renderFor(p) > time.Duration(c.meanPace()*float64(c.cfg.RenderTime))
}
