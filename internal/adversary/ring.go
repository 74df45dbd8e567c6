package adversary

import (
	"context"
	"sync"

	"github.com/renderswarm/renderswarm/job"
)

// Ring is a set of colluding identities sharing results out of band (in
// this process; across machines it would be any channel they like). The
// first member to work on a task makes its image; the others wait for it
// and deliver the same pixels.
type Ring struct {
	mu    sync.Mutex
	tasks map[job.Task]*ringEntry
}

type ringEntry struct {
	done  chan struct{} // closed once img is set, or the maker gave up
	img   Image
	claim int64
	ok    bool
}

// NewRing returns an empty ring.
func NewRing() *Ring { return &Ring{tasks: map[job.Task]*ringEntry{}} }

// image returns the ring's image of t, making it with mk when this member
// is the first to ask. copied reports whether another member made it.
func (r *Ring) image(ctx context.Context, t job.Task, mk func() (Image, int64, error)) (img Image, claim int64, copied bool, err error) {
	r.mu.Lock()
	e, ok := r.tasks[t]
	if !ok {
		e = &ringEntry{done: make(chan struct{})}
		r.tasks[t] = e
	}
	r.mu.Unlock()
	if !ok {
		img, claim, err := mk()
		r.mu.Lock()
		if err != nil {
			delete(r.tasks, t) // the next member makes it
		} else {
			e.img, e.claim, e.ok = img, claim, true
		}
		r.mu.Unlock()
		close(e.done)
		return img, claim, false, err
	}
	select {
	case <-e.done:
	case <-ctx.Done():
		return Image{}, 0, false, ctx.Err()
	}
	if !e.ok {
		return r.image(ctx, t, mk)
	}
	return e.img, e.claim, true, nil
}
