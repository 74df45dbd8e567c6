package scheduler

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

func TestPickerOrder(t *testing.T) {
	ps := testPeers(t, 4)
	self, rich, poor, blocked := ps[0], ps[1], ps[2], ps[3]
	prio := map[peer.ID]float64{rich: 100, poor: 10, blocked: 1000}
	offer := func(name string, pub peer.ID, seen time.Duration) Offer {
		return Offer{Job: testJob(name), Publisher: pub, Renderer: "blender", Version: "4.2.1", TasksLeft: 10, Seen: t0.Add(seen)}
	}
	now := t0.Add(time.Minute)
	tests := []struct {
		name   string
		offers []Offer
		setup  func(p *Picker)
		want   []string
	}{
		{"own jobs first, then priority", []Offer{
			offer("poor", poor, 0), offer("rich", rich, 0), offer("own", self, 0),
		}, nil, []string{"own", "rich", "poor"}},
		{"equal priority: older first", []Offer{
			offer("young", rich, 30*time.Second), offer("old", rich, 0),
		}, nil, []string{"old", "young"}},
		{"renderer name and exact version", []Offer{
			offer("ok", rich, 0),
			func() Offer { o := offer("other version", rich, 0); o.Version = "4.2.0"; return o }(),
			func() Offer { o := offer("other renderer", rich, 0); o.Renderer = "povray"; return o }(),
		}, nil, []string{"ok"}},
		{"blocked publisher and job", []Offer{
			offer("from blocked", blocked, 0), offer("blocked job", rich, 0), offer("ok", poor, 0),
		}, func(p *Picker) { p.SetBlocked([]peer.ID{blocked}, []cid.Cid{testJob("blocked job")}) }, []string{"ok"}},
		{"nothing left to do", []Offer{
			func() Offer { o := offer("finished", rich, 0); o.TasksLeft = 0; return o }(), offer("ok", poor, 0),
		}, nil, []string{"ok"}},
		{"stale offers dropped", []Offer{
			offer("stale", rich, -2*time.Minute-time.Second), offer("fresh", poor, -2*time.Minute+time.Second),
		}, nil, []string{"fresh"}},
		{"snoozed offer skipped", []Offer{offer("snoozed", rich, 0), offer("ok", poor, 0)},
			func(p *Picker) { p.Snooze(testJob("snoozed"), now.Add(time.Second)) }, []string{"ok"}},
		{"removed offer", []Offer{offer("gone", rich, 0), offer("ok", poor, 0)},
			func(p *Picker) { p.Remove(testJob("gone")) }, []string{"ok"}},
		{"re-announcement keeps its age", []Offer{
			offer("old", rich, 0), offer("young", rich, 10*time.Second), offer("old", rich, 50*time.Second),
		}, nil, []string{"old", "young"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPicker(PickerConfig{
				Self:          self,
				Renderers:     map[string]string{"blender": "4.2.1"},
				Priority:      func(id peer.ID) float64 { return prio[id] },
				NewcomerShare: -1,
			})
			for _, o := range tt.offers {
				p.Observe(o)
			}
			if tt.setup != nil {
				tt.setup(p)
			}
			var got []string
			for _, o := range p.Order(now) {
				for _, name := range []string{"own", "poor", "rich", "young", "old", "ok", "fresh"} {
					if o.Job == testJob(name) {
						got = append(got, name)
					}
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("order %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPickerNewcomerShare(t *testing.T) {
	ps := testPeers(t, 3)
	self, known, newbie := ps[0], ps[1], ps[2]
	mk := func(seed uint64, share float64) *Picker {
		p := NewPicker(PickerConfig{
			Self:          self,
			Renderers:     map[string]string{"builtin": "1"},
			Priority:      func(id peer.ID) float64 { return map[peer.ID]float64{known: 50}[id] },
			NewcomerShare: share,
			Seed:          seed,
		})
		for _, o := range []Offer{
			{Job: testJob("known"), Publisher: known, Renderer: "builtin", Version: "1", TasksLeft: 1, Seen: t0},
			{Job: testJob("newbie"), Publisher: newbie, Renderer: "builtin", Version: "1", TasksLeft: 1, Seen: t0},
			{Job: testJob("own"), Publisher: self, Renderer: "builtin", Version: "1", TasksLeft: 1, Seen: t0},
		} {
			p.Observe(o)
		}
		return p
	}
	rounds := func(p *Picker, n int) []bool {
		out := make([]bool, n)
		for i := range out {
			o := p.Order(t0)
			if len(o) != 3 || o[0].Publisher != self {
				t.Fatalf("round %d: %d offers, first from %s; own job must lead", i, len(o), o[0].Publisher)
			}
			out[i] = o[1].Publisher == newbie
		}
		return out
	}
	const n = 2000
	tests := []struct {
		name  string
		share float64
	}{
		{"default one in five", 0},
		{"one in two", 0.5},
		{"never", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.share
			switch {
			case want == 0:
				want = DefaultNewcomerShare
			case want < 0:
				want = 0
			}
			got := rounds(mk(42, tt.share), n)
			k := 0
			for _, b := range got {
				if b {
					k++
				}
			}
			sd := max(1, math.Sqrt(n*want*(1-want)))
			if d := float64(k) - want*n; math.Abs(d) > 5*sd {
				t.Fatalf("newcomer first in %d of %d rounds, want %.0f ± %.0f", k, n, want*n, 5*sd)
			}
			if !slices.Equal(got, rounds(mk(42, tt.share), n)) {
				t.Fatal("same seed, different order")
			}
		})
	}
}
