package scheduler

import (
	"image"
	"time"
)

// Check replicas (Config.Check, package documentation).

// nextCrop is the crop of the task's next replica: a check replica's once
// a replica of the whole task holds a commitment and no check replica is
// out or in, or, of a task split in parts, the first part no check
// replica has out or in; otherwise none (the whole task).
func (t *task) nextCrop() image.Rectangle {
	if t.crop.Empty() && len(t.parts) == 0 {
		return image.Rectangle{}
	}
	whole := false
	for _, r := range t.replicas {
		held := r.state == stCommitted || r.state == stDelivered
		if !r.Crop.Empty() && (held || r.state == stLeased) && len(t.parts) == 0 {
			return image.Rectangle{}
		}
		whole = whole || r.Crop.Empty() && held
	}
	if !whole {
		return image.Rectangle{}
	}
	if len(t.parts) == 0 {
		return t.crop
	}
	for _, part := range t.parts {
		if !t.partOut(part) {
			return part
		}
	}
	return image.Rectangle{}
}

// partOut reports whether a check replica of part is leased, committed or
// delivered.
func (t *task) partOut(part image.Rectangle) bool {
	for _, r := range t.replicas {
		if r.Crop == part && (r.active() || r.state == stDelivered) {
			return true
		}
	}
	return false
}

// checkWaits gives the publisher the check of every task whose check
// replica nobody took within CheckWait (no other peer asked for work): its
// result is accepted on its own, once the publisher crop-checked it.
func (c *Coordinator) checkWaits(now time.Time) {
	c.nextCheck = now.Add(time.Second)
	for i, since := range c.checking {
		t := c.tasks[i]
		switch {
		case t.status != tsOpen || t.crop.Empty():
			delete(c.checking, i)
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
