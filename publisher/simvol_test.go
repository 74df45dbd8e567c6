package publisher

import (
	"bytes"
	"context"
	"image"
	"os"
	"sort"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/roletest"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/render/builtin"
	"github.com/renderswarm/renderswarm/work"
)

// The simulated volunteers of sim_test.go: honest or cheating, asking for
// work, rendering in simulated time, committing, delivering, leaving.

// ask schedules the volunteer's next request for work.
func (v *simVol) ask(d time.Duration) {
	if v.asking || !v.online {
		return
	}
	v.asking = true
	gen := v.gen
	v.w.after(d, func() {
		v.asking = false
		if v.gen == gen && v.online && v.lease == nil {
			v.work()
		}
	})
	// A Sybil asks right after its partner, hoping for the same task.
	if v.kind == simSybil && v.partner != nil && v.partner.lease == nil {
		p := v.partner
		if !p.asking && p.online {
			p.asking = true
			pgen := p.gen
			v.w.after(d, func() {
				p.asking = false
				if p.gen == pgen && p.online && p.lease == nil {
					p.work()
				}
			})
		}
	}
}

// work asks the offers in the picker's order until one grants a lease.
func (v *simVol) work() {
	w := v.w
	now := w.clock.Now()
	var none []*simJob
	for _, o := range v.picker.Order(now) {
		j := w.jobs[o.Job]
		if j == nil || !j.done.IsZero() {
			continue
		}
		if v.take(j, j.pub.p.Lease, false) {
			return
		}
		none = append(none, j)
	}
	// No job had work: race a straggler's task, as a real volunteer does.
	for _, j := range none {
		if v.take(j, j.pub.p.Backup, true) {
			return
		}
	}
	v.ask(2 * time.Second)
}

// take asks j's publisher for a lease with ask (Lease or Backup) and
// starts working on a grant.
func (v *simVol) take(j *simJob, ask func(context.Context, peer.ID, cid.Cid, map[string]string) (work.LeaseAnswer, error), backup bool) bool {
	w := v.w
	t0 := time.Now()
	// Like a real volunteer, it says its speed (work.Request.Speed).
	a, err := ask(work.WithSpeed(w.ctx, v.speed), v.id, j.id, map[string]string{builtin.Name: w.info.Version})
	w.stats.PublisherTime += time.Since(t0)
	if err != nil {
		w.tb.Fatalf("lease: %v", err)
	}
	if a.Grant == nil {
		v.picker.Snooze(j.id, w.clock.Now().Add(a.Retry))
		return false
	}
	v.start(j, a.Grant)
	v.lease.backup = backup
	return true
}

// start works on a granted lease.
func (v *simVol) start(j *simJob, g *work.Grant) {
	w := v.w
	l := &simLease{v: v, j: j, g: g, start: w.clock.Now(), honest: true}
	v.lease = l
	full := time.Duration(float64(j.cost) / v.speed)
	if !g.Crop.Empty() {
		full = time.Duration(float64(full) * simShare(g.Crop))
	}
	l.dur = full
	if os.Getenv("RS_SIM_TAIL") != "" {
		w.trail = append(w.trail, l)
	}
	cheat := false
	switch v.kind {
	case simLazy:
		cheat = w.rng.Float64() < w.cfg.LazyRate && (!w.cfg.Patient || !j.pub.p.standing.of(v.id).New())
	case simSybil:
		held := w.sybilHeld[g.Task]
		if held == nil {
			held = map[peer.ID]bool{}
			w.sybilHeld[g.Task] = held
		}
		held[v.id] = true
		// Both hold the task, or will: one waits a moment to see whether
		// its partner gets the other replica.
		cheat = v.partner != nil && held[v.partner.id] && (!w.cfg.Patient || !j.pub.p.standing.of(v.id).New())
	case simCopier:
		cheat = true
	}
	if cheat {
		l.honest = false
		l.dur = full / 10
		if v.kind == simCopier {
			l.dur = full // holds its lease as long as a render would take, hoping to see the other result
		}
	}
	gen := v.gen
	w.after(l.dur, func() {
		if v.gen == gen && v.lease == l && l.state == 0 {
			v.finishRender(l)
		}
	})
}

// finishRender makes the image and commits to it.
func (v *simVol) finishRender(l *simLease) {
	w := v.w
	t := l.g.Task
	if v.kind == simSybil && l.honest && v.partner != nil && w.sybilHeld[t][v.partner.id] && (!w.cfg.Patient || !l.j.pub.p.standing.of(v.id).New()) {
		l.honest = false // its partner got the task meanwhile: deliver what they agreed
	}
	area := image.Rect(0, 0, simSize, simSize)
	if !l.g.Crop.Empty() {
		area = l.g.Crop
	}
	img := image.NewNRGBA(image.Rect(0, 0, area.Dx(), area.Dy()))
	for y := area.Min.Y; y < area.Max.Y; y++ {
		for x := area.Min.X; x < area.Max.X; x++ {
			c := truthPixel(l.j.idx, t.Frame, x, y)
			if !l.honest {
				switch v.kind {
				case simSybil: // the pair's shared forgery
					c.R ^= 0x40
				default: // a cheap render of its own
					c.G ^= byte(w.rng.IntN(255) + 1)
				}
			}
			img.SetNRGBA(x-area.Min.X, y-area.Min.Y, c)
		}
	}
	if l.honest {
		w.stats.Renders += simShare(area)
	}
	w.stats.Rendered += time.Duration(float64(l.dur) * v.speed)
	if !l.g.Crop.Empty() {
		w.stats.Checks++
		if simShare(l.g.Crop) > 0.1 { // a check crop is a sixteenth, a part at least 1/scheduler.MaxParts
			w.stats.Parts++
		}
	}
	var buf bytes.Buffer
	if err := simPNG.Encode(&buf, img); err != nil {
		w.tb.Fatal(err)
	}
	l.img, l.png = img, buf.Bytes()
	w.delivered[simKey{t, v.id}] = l.honest
	p := l.j.pub.p
	t0 := time.Now()
	reveal, err := p.Commit(w.ctx, v.id, l.g.Ref, job.Commit(l.g.Salt, credits.Digest(img)))
	w.stats.PublisherTime += time.Since(t0)
	if err != nil {
		v.lose(l, "commit: "+err.Error())
		return
	}
	l.state = 1
	if reveal {
		v.deliver(l)
		return
	}
	// Like a real volunteer, it renders its next task while this result
	// waits for its task's other replicas.
	l.j.waiting[l.g.Lease] = l
	v.waiting[l] = struct{}{}
	if len(v.waiting) < simMaxCommitted {
		v.lease = nil
		v.ask(0)
	}
	w.reveal(l.j)
}

// simMaxCommitted is how many committed results a volunteer keeps waiting
// to deliver while it renders on (volunteer.maxCommitted).
const simMaxCommitted = 8

// leases returns the volunteer's open leases: the one rendering and the
// committed ones.
func (v *simVol) leases() []*simLease {
	var out []*simLease
	if v.lease != nil && v.lease.state != 2 {
		out = append(out, v.lease)
	}
	for l := range v.waiting {
		if l != v.lease {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].g.Lease < out[b].g.Lease })
	return out
}

// reveal delivers the waiting results of a job the publisher now lets
// through.
func (w *simWorld) reveal(j *simJob) {
	if len(j.waiting) == 0 {
		return
	}
	pj, err := j.pub.p.job(j.id)
	if err != nil {
		return
	}
	ids := make([]string, 0, len(j.waiting))
	for id := range j.waiting {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		l, ok := j.waiting[id]
		if !ok {
			continue // delivered by a nested pass
		}
		pj.mu.Lock()
		ok, err := pj.coord.Revealed(w.clock.Now(), id, l.v.id)
		pj.mu.Unlock()
		switch {
		case err != nil:
			l.v.lose(l, "reveal: "+err.Error())
		case ok:
			delete(j.waiting, id)
			l.v.deliver(l)
		}
	}
}

// deliver sends a revealed result and lets the publisher verify.
func (v *simVol) deliver(l *simLease) {
	w := v.w
	p := l.j.pub.p
	share := 1.0
	if !l.g.Crop.Empty() {
		share = simShare(l.g.Crop)
	}
	claim := credits.Units(l.j.cost.Seconds()*share, 1)
	t0 := time.Now()
	err := p.Deliver(w.ctx, v.id, work.Delivery{Ref: l.g.Ref, CU: claim}, &roletest.Body{Data: l.png})
	w.stats.PublisherTime += time.Since(t0)
	w.stats.Deliveries++
	if err == nil {
		w.stats.Kept += time.Duration(float64(l.dur) * v.speed)
	}
	l.state, l.ended = 2, w.clock.Now()
	delete(v.waiting, l)
	if v.lease == l || v.lease != nil && v.lease.state == 1 && len(v.waiting) < simMaxCommitted {
		v.lease = nil
	}
	v.ask(0)
	if err == nil {
		w.verify(l.j)
	}
}

// lose abandons one of the volunteer's leases (lost, or refused).
func (v *simVol) lose(l *simLease, why string) {
	if l.state == 0 { // the render so far is lost
		v.w.stats.Rendered += time.Duration(float64(min(v.w.clock.Now().Sub(l.start), l.dur)) * v.speed)
	}
	l.state, l.ended, l.lost = 2, v.w.clock.Now(), why
	delete(l.j.waiting, l.g.Lease)
	delete(v.waiting, l)
	if v.lease == l || v.lease != nil && v.lease.state == 1 && len(v.waiting) < simMaxCommitted {
		v.lease = nil
		v.ask(time.Second)
	}
}

// leave takes the volunteer offline without a word (its leases lapse);
// it comes back later, perhaps as someone new.
func (v *simVol) leave() {
	w := v.w
	for _, l := range v.leases() {
		v.lose(l, "left")
	}
	v.lease, v.online, v.asking = nil, false, false
	v.gen++
	away := time.Duration(w.rng.ExpFloat64() * float64(w.cfg.Away))
	w.after(away, func() {
		if w.rng.Float64() < w.cfg.Rejoin {
			_, v.id = roletest.Identity(w.tb)
		}
		v.online = true
		v.ask(0)
	})
}
