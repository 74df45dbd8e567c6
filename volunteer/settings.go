package volunteer

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Mode says when a volunteer may render.
type Mode string

// Modes.
const (
	Always    Mode = "always"   // whenever there is work
	WhenIdle  Mode = "idle"     // only while the machine is otherwise idle
	Scheduled Mode = "schedule" // only inside Settings.Window
)

// DefaultIdle is how long the machine must be idle in WhenIdle mode when
// Settings.IdleFor is 0.
const DefaultIdle = 2 * time.Minute

// Settings are the volunteer's user-controlled settings. Zero values mean
// the documented defaults.
type Settings struct {
	CPUs    int // cores given to rendering, from the next task; 0: all
	Mode    Mode
	IdleFor time.Duration // WhenIdle: how long the machine must be idle first; 0: DefaultIdle
	Window  Window        // Scheduled: the daily window
	Paused  bool          // pause now, whatever the mode
	// Renderers lists the renderer names offered to publishers; nil means
	// every installed renderer.
	Renderers         []string
	BlockedPublishers []peer.ID // never rendered for
	BlockedJobs       []cid.Cid // never rendered
}

// Window is a daily time window in local time, in minutes after midnight:
// [From, To), wrapping midnight when To ≤ From.
type Window struct{ From, To int }

// Contains reports whether t falls in the window.
func (w Window) Contains(t time.Time) bool {
	m := t.Hour()*60 + t.Minute()
	if w.From < w.To {
		return m >= w.From && m < w.To
	}
	return m >= w.From || m < w.To
}

// offered is the renderer name -> version map the volunteer asks work
// for: the installed ones its user offers.
func offered(installed map[string]string, s Settings) map[string]string {
	if s.Renderers == nil {
		return maps.Clone(installed)
	}
	out := map[string]string{}
	for name, v := range installed {
		if slices.Contains(s.Renderers, name) {
			out[name] = v
		}
	}
	return out
}

// settingsBox holds the settings in effect; changed is closed and replaced
// at every change, so waiters wake.
type settingsBox struct {
	mu      sync.Mutex
	s       Settings
	changed chan struct{}
}

func newSettingsBox(s Settings) *settingsBox {
	return &settingsBox{s: s, changed: make(chan struct{})}
}

func (b *settingsBox) get() (Settings, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.s, b.changed
}

func (b *settingsBox) set(s Settings) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.s = s
	close(b.changed)
	b.changed = make(chan struct{})
}
