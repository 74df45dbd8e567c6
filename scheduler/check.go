package scheduler

import (
	"image"
	"slices"
	"time"
)

// Check replicas (Config.Check, package documentation).

// nextCrop is the crop of the task's next replica: a check replica's once
// a replica of the whole task holds a commitment and no check replica is
// out or in; otherwise none (the whole task).
func (t *task) nextCrop() image.Rectangle {
	if t.crop.Empty() && len(t.bands) == 0 {
		return image.Rectangle{}
	}
	whole := false
	var out []image.Rectangle // crops leased, committed or delivered
	for _, r := range t.replicas {
		held := r.state == stCommitted || r.state == stDelivered
		if !r.Crop.Empty() && (held || r.state == stLeased) {
			out = append(out, r.Crop)
		}
		whole = whole || r.Crop.Empty() && held
	}
	switch {
	case !whole:
		return image.Rectangle{}
	case len(t.bands) > 0:
		for _, b := range t.bands {
			if !slices.Contains(out, b) {
				return b
			}
		}
		return image.Rectangle{}
	case len(out) > 0:
		return image.Rectangle{}
	}
	return t.crop
}

// checkWaits gives the publisher the check of every task whose check
// replica nobody took within CheckWait (no other peer asked for work): its
// result is accepted on its own, once the publisher crop-checked it.
func (c *Coordinator) checkWaits(now time.Time) {
	c.nextCheck = now.Add(time.Second)
	for i, since := range c.checking {
		t := c.tasks[i]
		switch {
		case t.status != tsOpen || t.crop.Empty() && len(t.bands) == 0:
			delete(c.checking, i)
		case len(t.bands) > 0 && t.nextCrop().Empty():
			c.checking[i] = now // every band is out, or the task waits for a render of the whole
		case len(t.bands) > 0:
			if now.Sub(since) >= c.cfg.CheckWait {
				delete(c.checking, i)
				c.unsplit(i)
			}
		case t.checkOut() || t.nextCrop().Empty():
			c.checking[i] = now // a check is under way, or the task waits for a render of the whole
		case now.Sub(since) >= c.cfg.CheckWait:
			delete(c.checking, i)
			c.touch(i)
			t.crop, t.selfCheck = image.Rectangle{}, true
			t.want, t.quorum = max(1, t.active+len(t.delivered)), 1
			if len(t.delivered) >= t.want {
				c.pending[i] = struct{}{}
			}
		}
	}
}

// checkOut reports whether a check replica of the task is leased,
// committed or delivered.
func (t *task) checkOut() bool {
	for _, r := range t.replicas {
		if !r.Crop.Empty() && (r.active() || r.state == stDelivered) {
			return true
		}
	}
	return false
}

// unsplit gives up the bands of task i nobody took within CheckWait (too
// few other peers ask): the task wants a second render of the whole
// instead, beside the bands out or in.
func (c *Coordinator) unsplit(i int) {
	t := c.tasks[i]
	var kept []image.Rectangle
	for _, r := range t.replicas {
		if !r.Crop.Empty() && (r.active() || r.state == stDelivered) {
			kept = append(kept, r.Crop)
		}
	}
	t.bands = kept
	t.want = 2 + len(kept)
	t.quorum = t.want
	c.touch(i)
	c.low = min(c.low, i)
}
