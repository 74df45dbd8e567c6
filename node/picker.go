package node

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/gui"
	"github.com/renderswarm/renderswarm/scheduler"
)

// newPicker builds the volunteer's job picker from the user's settings
// (blocks, renderers offered) and the ledger's priorities.
func newPicker(s gui.Settings, self peer.ID, versions map[string]string, ledger *credits.Ledger) *scheduler.Picker {
	pubs, jobs := blockLists(s)
	pc := &priorityCache{ledger: ledger}
	return scheduler.NewPicker(scheduler.PickerConfig{
		Self: self, Renderers: offered(versions, s), BlockedPublishers: pubs, BlockedJobs: jobs,
		Priority: pc.of, Newcomer: pc.newcomer, Reannounce: announceEvery,
		Seed: uint64(time.Now().UnixNano()),
	})
}

// priorityCache recomputes publishers' priorities from the ledger at most
// every priorityTTL: the picker asks for them on every decision.
type priorityCache struct {
	ledger *credits.Ledger

	mu   sync.Mutex
	at   time.Time // zero until first computed
	prio credits.Priorities
}

const priorityTTL = 30 * time.Second

func (c *priorityCache) get() credits.Priorities {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() || time.Since(c.at) > priorityTTL {
		if p, err := c.ledger.Priority(); err == nil {
			c.prio, c.at = p, time.Now()
		}
	}
	return c.prio
}

func (c *priorityCache) of(p peer.ID) float64 { return c.get().Of(p) }

func (c *priorityCache) newcomer(p peer.ID) bool { return c.get().Newcomer(p) }
