package adversary

import (
	"fmt"
	"sort"
	"time"

	"github.com/renderswarm/renderswarm/credits"
)

// Render is how a peer makes the image it commits to.
type Render int

// Render modes.
const (
	RenderHonest Render = iota // exactly what the manifest asks for
	RenderLazy                 // cheaper: see Behavior.HalfResolution
	RenderWrong                // honest, then every channel +2/255: invisible to a person
)

// Behavior is how a Peer works the tasks it leases. The zero value is an
// honest volunteer; each field adds one kind of cheating, and they combine
// (a Ring of RenderWrong colluders, a lazy inflater, ...).
type Behavior struct {
	Render Render
	// HalfResolution makes RenderLazy render a quarter of the pixels and
	// scale them up; otherwise it renders a quarter of the samples (at
	// least 1). A task of one sample or a tile of a frame renders at
	// half resolution either way.
	HalfResolution bool
	// Copy: hold each lease uncommitted, renewing it, until another
	// replica's result of the task appears in the swarm, then commit to it
	// and deliver it. Needs Config.WatchResults.
	Copy bool
	// Ring: share images out of band with the ring's other identities. The
	// first member to work on a task renders it; the others deliver its
	// image.
	Ring *Ring
	// Tandem: ask for work back to back with the tandem's other
	// identities (a Sybil group).
	Tandem *Tandem
	// Claim is the milli-CU claimed for every result; 0 claims what the
	// render took (credits.Units at speed 1).
	Claim int64
	// Stall: commit, then never deliver; the lease is renewed until the
	// publisher refuses or the work ends.
	Stall bool
	// Sabotage: report every leased task as a failed render.
	Sabotage bool
	// Squat: take every lease the publisher grants and renew them all,
	// working on none.
	Squat bool
	// MaxLeases bounds the leases one Work call takes; 0: no bound.
	MaxLeases int
	// Pace is how long each task takes at least, as on a slow machine:
	// the image is committed no sooner.
	Pace time.Duration
	// Progress is the share of its render done that every renewal
	// reports, true or not; 0 reports half.
	Progress float64
}

// Behaviors are the named behaviours, as rsadversary's --behavior takes
// them. Colluders get their Ring from the caller.
var Behaviors = map[string]Behavior{
	"honest":   {},
	"copier":   {Copy: true},
	"lazy":     {Render: RenderLazy},
	"colluder": {Render: RenderWrong},
	"inflater": {Claim: credits.MaxMilliCU},
	"staller":  {Stall: true},
	"saboteur": {Sabotage: true},
	"squatter": {Squat: true},
}

// ParseBehavior returns the named behaviour.
func ParseBehavior(name string) (Behavior, error) {
	b, ok := Behaviors[name]
	if !ok {
		names := make([]string, 0, len(Behaviors))
		for n := range Behaviors {
			names = append(names, n)
		}
		sort.Strings(names)
		return Behavior{}, fmt.Errorf("unknown behavior %q (want one of %v)", name, names)
	}
	return b, nil
}
