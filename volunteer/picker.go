package volunteer

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/clock"
	"github.com/renderswarm/renderswarm/scheduler"
	"github.com/renderswarm/renderswarm/work"
)

// newPicker builds the job picker from the user's settings (blocks,
// renderers offered) and the ledger's priorities.
func newPicker(s Settings, self peer.ID, versions map[string]string, ledger *credits.Ledger, c clock.Clock) *scheduler.Picker {
	pc := &priorityCache{ledger: ledger, clock: c}
	return scheduler.NewPicker(scheduler.PickerConfig{
		Self: self, Renderers: offered(versions, s), BlockedPublishers: s.BlockedPublishers, BlockedJobs: s.BlockedJobs,
		Priority: pc.of, Newcomer: pc.newcomer, Reannounce: work.AnnounceEvery,
		Seed: uint64(c.Now().UnixNano()),
	})
}

// priorityCache recomputes publishers' priorities from the ledger at most
// every priorityTTL: the picker asks for them on every decision.
type priorityCache struct {
	ledger *credits.Ledger
	clock  clock.Clock

	mu   sync.Mutex
	at   time.Time // zero until first computed
	prio credits.Priorities
}

const priorityTTL = 30 * time.Second

func (c *priorityCache) get() credits.Priorities {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if c.at.IsZero() || now.Sub(c.at) > priorityTTL {
		if p, err := c.ledger.Priority(); err == nil {
			c.prio, c.at = p, now
		}
	}
	return c.prio
}

func (c *priorityCache) of(p peer.ID) float64 { return c.get().Of(p) }

func (c *priorityCache) newcomer(p peer.ID) bool { return c.get().Newcomer(p) }
